package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An operator reads "lock PATH: open PATH: …" as two problems; the path is named once.
func TestAcquireLockErrorNamesThePathOnce(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "state")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(notDir, "fleet.lock") // its parent is a file: open fails
	_, err := AcquireLock(path, Holder{PID: 1})
	if err == nil {
		t.Fatal("AcquireLock under a file: no error")
	}
	if n := strings.Count(err.Error(), path); n != 1 {
		t.Errorf("error %q names %s %d times, want once", err, path, n)
	}
	if !strings.HasPrefix(err.Error(), "lock") {
		t.Errorf("error %q does not say it is the lock", err)
	}
}
