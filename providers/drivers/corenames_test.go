package drivers_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/reimage-dev/reimage/providers"
)

// module is this module's path, which package paths begin with.
const module = "github.com/reimage-dev/reimage/"

// exempt are the files outside the drivers' packages that may name clouds:
// the registration list, and the simulator tests' shared harness (which
// seeds and signs for the front-ends it names).
var exempt = map[string]bool{
	"providers/drivers/drivers.go":          true,
	"providers/internal/simtest/simtest.go": true,
}

// TestCoreNamesNoCloud is the grep as a test: no Go file outside the
// registered drivers' packages (each with its simulator front-end beneath
// it), tests aside, names a registered cloud by its type, its short name or
// a word of its description, except the exempt ones. A cloud's knowledge in
// the core is what it finds: a help text, a comment, a branch on a type.
func TestCoreNamesNoCloud(t *testing.T) {
	var words []string
	var driverDirs []string
	for _, typ := range providers.Types() {
		d, _ := providers.Lookup(typ)
		words = append(words, regexp.QuoteMeta(d.Type), regexp.QuoteMeta(d.Plan.Short))
		for _, w := range strings.Fields(d.Description) {
			if len(w) >= 3 && !generic[strings.ToLower(w)] {
				words = append(words, regexp.QuoteMeta(w))
			}
		}
		// The driver's package is where its New is defined.
		fn := runtime.FuncForPC(reflect.ValueOf(d.New).Pointer()).Name()
		pkg, _, _ := strings.Cut(strings.TrimPrefix(fn, module), ".")
		if pkg == fn || pkg == "" {
			t.Fatalf("driver %q: cannot tell its package from %s", typ, fn)
		}
		driverDirs = append(driverDirs, pkg+"/")
	}
	names := regexp.MustCompile(`(?i)\b(` + strings.Join(words, "|") + `)\b`)
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(strings.TrimPrefix(path, root), string(filepath.Separator)))
		if e.IsDir() {
			if rel != "" && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata") {
				return filepath.SkipDir
			}
			if rel != "" {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module (compat suites)
				}
			}
			for _, d := range driverDirs {
				if rel+"/" == d {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || exempt[rel] {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(data), "\n") {
			if m := names.FindString(line); m != "" {
				t.Errorf("%s:%d names cloud %q: %s", rel, i+1, m, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: the walk missed the module", checked)
	}
}

// generic are words of descriptions that name no cloud.
var generic = map[string]bool{"cloud": true, "compute": true, "elastic": true, "service": true, "server": true}
