package deploy

// Tests of the release build and the Dockerfile. TestMain builds the release binary once, with
// the very command the Dockerfile's build stage runs (`make release`), and every test of the
// package that runs reimage (here and in manifests_test.go) uses that binary.

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

var (
	// root is the repository root (the module's directory).
	root string
	// releaseBin is the binary `make release` built, in a temporary directory; empty when
	// the build failed (releaseErr says why).
	releaseBin string
	releaseErr error
	// versionsSeen are the versions `git describe` gave just before and just after the build:
	// other commits or edits in the tree may land while it runs.
	versionsSeen []string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	if root, err = filepath.Abs(".."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "reimage-release-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	releaseBin, releaseErr = buildRelease(dir)
	return m.Run()
}

// dockerfileBuildCommand is the command of the RUN instruction in the Dockerfile's build stage
// that builds reimage (the one that runs make).
func dockerfileBuildCommand() (string, error) {
	df, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return "", err
	}
	build := df.stage("build")
	if build == nil {
		return "", fmt.Errorf("Dockerfile: no stage named build")
	}
	for _, in := range build.instrs {
		if in.cmd == "RUN" && strings.HasPrefix(in.args, "make ") {
			return in.args, nil
		}
	}
	return "", fmt.Errorf("Dockerfile: no RUN make … in the build stage")
}

// buildRelease runs the Dockerfile build stage's make command in the repository with the
// output redirected into dir (BIN=…), and returns the binary's path.
func buildRelease(dir string) (string, error) {
	cmdline, err := dockerfileBuildCommand()
	if err != nil {
		return "", err
	}
	if _, err := exec.LookPath("make"); err != nil {
		return "", fmt.Errorf("make: %w", err)
	}
	bin := filepath.Join(dir, "reimage")
	versionsSeen = append(versionsSeen, gitDescribe())
	args := append(strings.Fields(cmdline)[1:], "--no-print-directory", "-C", root, "BIN="+bin)
	cmd := exec.Command("make", args...)
	cmd.Env = withoutEnv(os.Environ(), "VERSION", "BIN")
	out, err := cmd.CombinedOutput()
	versionsSeen = append(versionsSeen, gitDescribe())
	if err != nil {
		return "", fmt.Errorf("%s: %v\n%s", cmdline, err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s did not write BIN=%s: %v", cmdline, bin, err)
	}
	return bin, nil
}

// gitDescribe is the version the Makefile stamps: git describe, or dev outside git.
func gitDescribe() string {
	cmd := exec.Command("git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "dev"
	}
	return strings.TrimSpace(string(out))
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// release returns the release binary or fails the test. It also stats every Go source and
// module file of the repository so that `go test` caches this package's result only while
// none of them changes (the build runs in a child process, which the test cache does not see).
func release(t *testing.T) string {
	t.Helper()
	if releaseErr != nil {
		t.Fatalf("release build: %v", releaseErr)
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", ".reimage", "testdata":
				if path != root {
					return filepath.SkipDir
				}
			}
			return nil
		}
		switch n := d.Name(); {
		case strings.HasSuffix(n, ".go"), n == "go.mod", n == "go.sum", n == "Makefile", n == "Dockerfile",
			strings.HasSuffix(n, ".json"):
			_, err := os.Stat(path)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return releaseBin
}

// run runs the release binary and returns its stdout, failing the test on a non-zero exit.
func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("reimage %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestReleaseVersion: `reimage version` of the release binary prints the version the Makefile
// stamped from git.
func TestReleaseVersion(t *testing.T) {
	bin := release(t)
	out := run(t, bin, "version")
	m := regexp.MustCompile(`^reimage (\S+) \((go[^)]+)\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("reimage version printed %q, want \"reimage VERSION (goX.Y.Z)\"", out)
	}
	ok := false
	for _, v := range versionsSeen {
		ok = ok || m[1] == v
	}
	if !ok {
		t.Errorf("reimage version says %q; git describe says %q", m[1], versionsSeen)
	}
	if m[2] != runtime.Version() {
		t.Errorf("built with %s, the test runs %s", m[2], runtime.Version())
	}
}

// TestReleaseStatic: the binary is a static ELF (no interpreter, no shared libraries), so it
// runs on distroless/static and scratch, and holds no path of the machine that built it.
func TestReleaseStatic(t *testing.T) {
	bin := release(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked (CGO_ENABLED=0 missing?)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary has a symbol table (-s missing)")
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(root+"/")) {
		t.Errorf("the binary contains the build path %s (-trimpath missing?)", root)
	}
}

// TestReleaseValidatesExamples: the release binary validates every example plan and the plans
// shipped in deploy/.
func TestReleaseValidatesExamples(t *testing.T) {
	bin := release(t)
	plans, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if err != nil || len(plans) == 0 {
		t.Fatalf("no example plans: %v", err)
	}
	plans = append(plans, filepath.Join(root, "deploy", "systemd", "fleet.yaml"))
	out := run(t, bin, append([]string{"validate"}, plans...)...)
	if n := strings.Count(out, ": valid: "); n != len(plans) {
		t.Errorf("%d of %d plans reported valid:\n%s", n, len(plans), out)
	}
	// The schema the image ships is the one the binary embeds.
	schema, err := os.ReadFile(filepath.Join(root, "schema", "plan.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, bin, "schema"); !jsonEqual(t, got, string(schema)) {
		t.Error("reimage schema differs from schema/plan.schema.json")
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("reimage schema: %v", err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("plan.schema.json: %v", err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// dockerfile is a parsed Dockerfile: its stages with their instructions (continuation lines
// joined, comments dropped).
type dockerfile struct{ stages []*stage }

type stage struct {
	name, from string
	instrs     []instr
}

type instr struct{ cmd, args string }

func (d *dockerfile) stage(name string) *stage {
	for _, s := range d.stages {
		if s.name == name {
			return s
		}
	}
	return nil
}

func parseDockerfile(path string) (*dockerfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := &dockerfile{}
	var cur string
	flush := func() error {
		line := strings.TrimSpace(cur)
		cur = ""
		if line == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd, args = strings.ToUpper(cmd), strings.TrimSpace(args)
		if cmd == "FROM" {
			f := strings.Fields(args)
			s := &stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			} else if len(f) != 1 {
				return fmt.Errorf("%s: FROM %s: want IMAGE [AS NAME]", path, args)
			}
			d.stages = append(d.stages, s)
			return nil
		}
		if len(d.stages) == 0 {
			if cmd == "ARG" {
				return nil
			}
			return fmt.Errorf("%s: %s before FROM", path, cmd)
		}
		s := d.stages[len(d.stages)-1]
		s.instrs = append(s.instrs, instr{cmd, args})
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur += strings.TrimSuffix(t, "\\") + " "
			continue
		}
		cur += t
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return d, nil
}

// TestDockerfile: the build stage uses the Go of go.mod and runs exactly `make release` (the
// command TestMain built the tested binary with); the final stage is a minimal non-root image
// with that binary (at the path the Makefile writes) and the schema.
func TestDockerfile(t *testing.T) {
	df, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	build := df.stage("build")
	if build == nil || len(df.stages) != 2 || df.stages[0] != build {
		t.Fatalf("want two stages, the first named build; got %d", len(df.stages))
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gover := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if gover == nil {
		t.Fatal("go.mod: no go directive")
	}
	if want := "golang:" + string(gover[1]); build.from != want && !strings.HasPrefix(build.from, want+".") && !strings.HasPrefix(build.from, want+"-") {
		t.Errorf("build stage FROM %s, want %s (go.mod's go %s)", build.from, want, gover[1])
	}
	cmdline, err := dockerfileBuildCommand()
	if err != nil {
		t.Fatal(err)
	}
	if cmdline != "make release" {
		t.Errorf("build stage runs %q, want exactly \"make release\" (what CI builds and tests)", cmdline)
	}

	// The release recipe, as make would run it.
	cmd := exec.Command("make", "-n", "--no-print-directory", "-C", root, "release")
	cmd.Env = withoutEnv(os.Environ(), "BIN")
	recipe, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n release: %v", err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-buildvcs=false", "-X main.version="} {
		if !bytes.Contains(recipe, []byte(want)) {
			t.Errorf("make release does not set %s:\n%s", want, recipe)
		}
	}
	out := regexp.MustCompile(`\s-o\s+(\S+)`).FindSubmatch(recipe)
	if out == nil {
		t.Fatalf("make release: no -o in %s", recipe)
	}
	workdir := ""
	for _, in := range build.instrs {
		if in.cmd == "WORKDIR" {
			workdir = in.args
		}
	}

	final := df.stages[1]
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") || !strings.HasSuffix(final.from, ":nonroot") {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static…:nonroot (CA certificates, no shell)", final.from)
	}
	var copies, users []string
	var entrypoint string
	for _, in := range final.instrs {
		switch in.cmd {
		case "COPY":
			copies = append(copies, in.args)
		case "USER":
			users = append(users, in.args)
		case "ENTRYPOINT":
			entrypoint = in.args
		case "RUN":
			t.Errorf("final stage RUN %s: the image has no shell", in.args)
		}
	}
	wantCopies := []string{
		"--from=build " + filepath.Join(workdir, string(out[1])) + " /reimage",
		"--from=build " + filepath.Join(workdir, "schema/plan.schema.json") + " /schema/plan.schema.json",
	}
	if strings.Join(copies, "\n") != strings.Join(wantCopies, "\n") {
		t.Errorf("final stage copies\n%s\nwant\n%s", strings.Join(copies, "\n"), strings.Join(wantCopies, "\n"))
	}
	if len(users) != 1 || !(users[0] == "nonroot" || strings.HasPrefix(users[0], "65532")) {
		t.Errorf("final stage USER %q, want nonroot (65532)", users)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) != 1 || ep[0] != "/reimage" {
		t.Errorf("ENTRYPOINT %s, want [\"/reimage\"] (exec form)", entrypoint)
	}
}

// TestDockerignore: the build context leaves out VCS data and host binaries but keeps every file
// the build stage needs.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are not understood by this test", l)
		}
		patterns = append(patterns, strings.TrimSuffix(strings.TrimPrefix(l, "/"), "/"))
	}
	ignored := func(path string) bool {
		for p := path; p != "."; p = filepath.Dir(p) {
			for _, pat := range patterns {
				if ok, _ := filepath.Match(pat, p); ok {
					return true
				}
				if rest, ok := strings.CutPrefix(pat, "**/"); ok {
					if ok, _ := filepath.Match(rest, filepath.Base(p)); ok {
						return true
					}
				}
			}
		}
		return false
	}
	for _, p := range []string{".git/HEAD", "bin/reimage", "reimage"} {
		if !ignored(p) {
			t.Errorf("%s is in the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "Makefile", "schema/plan.schema.json", "cmd/reimage/main.go",
		"cmd/reimage/version.go", "plan/load.go", "providers/sim/doc.go"} {
		if ignored(p) {
			t.Errorf("%s is left out of the build context; the build stage needs it", p)
		}
	}
}
