package sim

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// attachFilter attaches (or replaces) the socket filter of c.
func attachFilter(c syscall.RawConn, prog []bpfInsn) error {
	f := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		f[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]})
	}); err != nil {
		return err
	}
	return serr
}
