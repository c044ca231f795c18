//go:build !linux

package sim

import (
	"errors"
	"syscall"
)

// attachFilter: the health listener needs Linux's socket filters, without
// which it would answer for instances that are down.
func attachFilter(syscall.RawConn, []bpfInsn) error {
	return errors.New("simulated health checks need Linux (socket filters): " + errors.ErrUnsupported.Error())
}
