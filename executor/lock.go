package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Holder says who holds a lock, for the error a second run prints.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	Plan    string    `json:"plan"`
}

// LockedError is returned when another process holds the lock.
type LockedError struct {
	Path   string
	Holder Holder
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("another reimage run holds the lock %s", e.Path)
	}
	return fmt.Sprintf("another reimage run holds the lock %s: pid %d on %s since %s",
		e.Path, h.PID, h.Host, h.Started.Format(time.RFC3339))
}

// Lock is an exclusive lock on a plan's state. It is an flock(2) on the lock
// file, which the kernel releases when the holder dies however it dies: a lock
// left by a crashed run is never stale, so it is taken over without guessing
// from pids or ages. The file's content only names the holder.
type Lock struct {
	f    *os.File
	path string
}

// AcquireLock takes the lock at path without waiting, or returns a *LockedError
// naming the holder.
func AcquireLock(path string, h Holder) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err) // the *PathError names the file
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Path: path}
			if b, rerr := os.ReadFile(path); rerr == nil {
				_ = json.Unmarshal(b, &le.Holder)
			}
			return nil, le
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	b, _ := json.Marshal(h)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock: %w", err) // the *PathError names the file
		}
	}
	return &Lock{f: f, path: path}, nil
}

// Release gives the lock up. The file stays: removing it would race with a
// process that opened it and waits to lock it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	return err
}
