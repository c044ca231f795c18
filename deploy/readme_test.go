package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeCommands checks every command line in the README's sh blocks
// (the Scheduling section has its stricter test above): each reimage command
// names a subcommand the binary has and only flags that subcommand accepts,
// and each make target exists. What the commands do is exercised by the
// script tests (testdata/script, e.g. readme_quickstart.txtar) and by CI.
var quoted = regexp.MustCompile(`"[^"]*"|'[^']*'`)

func TestReadmeCommands(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]bool{}
	for _, l := range strings.Split(run(t, release(t), "-h"), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(l, "  ") && !strings.HasPrefix(f[0], "-") {
			subs[f[0]] = true
		}
	}
	section, inBlock, lang, cont := "", false, "", ""
	checked := 0
	for n, l := range strings.Split(string(b), "\n") {
		where := "README.md:" + strconv.Itoa(n+1)
		if strings.HasPrefix(l, "## ") {
			section = l
		}
		if strings.HasPrefix(l, "```") {
			inBlock, lang = !inBlock, strings.TrimPrefix(l, "```")
			continue
		}
		if !inBlock || lang != "sh" || section == "## Scheduling" {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cont += strings.TrimSuffix(l, "\\")
			continue
		}
		l, cont = strings.TrimSpace(cont+l), ""
		if cmd, _, ok := strings.Cut(l, " #"); ok {
			l = strings.TrimSpace(cmd)
		}
		// A quoted argument ("$(head -1 sim.env)") is one word.
		f := strings.Fields(quoted.ReplaceAllString(l, "QUOTED"))
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == "make" && i == 0:
				for _, target := range f[1:] {
					if target == "&&" || target == ";" {
						break
					}
					if strings.Contains(target, "=") {
						continue
					}
					if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(makefile) {
						t.Errorf("%s: make %s: no such target in the Makefile", where, target)
					}
				}
				checked++
			case filepath.Base(f[i]) == "reimage" && i+1 < len(f) && !strings.HasPrefix(f[i+1], "-"):
				if !subs[f[i+1]] {
					t.Errorf("%s: reimage has no command %q", where, f[i+1])
					continue
				}
				if i > 0 && !slices.Contains([]string{"run", "exec", "&&", ";", "|"}, f[i-1]) && !strings.Contains(f[i-1], "=") {
					continue
				}
				execInvocation(t, where, strings.Join(f[i:], " "))
				checked++
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked only %d command lines in README.md: has the format of its code blocks changed?", checked)
	}
}
