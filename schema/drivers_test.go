package schema_test

// The schema tests check the assembled document, which has every registered
// cloud's fragment: importing the one list of drivers registers them (an
// external test package, since the drivers import schema through plan). The
// package's own tests see the registration too: they run in the same binary.
import _ "github.com/reimage-dev/reimage/providers/drivers"
