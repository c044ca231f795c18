package plan_test

// The plan tests load plans of the real clouds: importing the one list of
// drivers registers their plan options (an external test package, since the
// drivers import plan). The package's own tests see the registration too:
// they run in the same test binary.
import _ "github.com/reimage-dev/reimage/providers/drivers"
