package workload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// probeSCTP opens an SCTP association from the namespace to target (an IPv4 address and port) and reads the
// answer like TCP.
func probeSCTP(ctx context.Context, netnsPath, target string) (string, error) {
	ap, err := netip.ParseAddrPort(target)
	if err != nil || !ap.Addr().Unmap().Is4() {
		return "", fmt.Errorf("sctp probes need an IPv4 address and port, not %q", target)
	}
	var fd int
	var sockErr error
	if err := inNetns(netnsPath, func() { fd, sockErr = sctpSocket() }); err != nil {
		return "", err
	}
	if sockErr != nil {
		return "", sockErr
	}
	f := os.NewFile(uintptr(fd), "sctp-probe")
	defer f.Close()
	if err := connectNonblocking(ctx, fd, &unix.SockaddrInet4{Addr: ap.Addr().Unmap().As4(), Port: int(ap.Port())}); err != nil {
		return "", err
	}
	conn, err := net.FileConn(f) // a SOCK_STREAM socket: the runtime treats it as a stream connection
	if err != nil {
		return "", fmt.Errorf("wrapping the SCTP socket: %w", err)
	}
	return readAnswer(ctx, conn), nil
}

// connectNonblocking connects the non-blocking socket fd to sa, waiting for the handshake until ctx ends.
func connectNonblocking(ctx context.Context, fd int, sa unix.Sockaddr) error {
	err := unix.Connect(fd, sa)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINPROGRESS) {
		return os.NewSyscallError("connect", err)
	}
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		wait := 50 * time.Millisecond
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			wait = max(time.Until(d), time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, int(wait.Milliseconds()))
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return os.NewSyscallError("getsockopt SO_ERROR", err)
		}
		if soErr != 0 {
			return os.NewSyscallError("connect", unix.Errno(soErr))
		}
		return nil
	}
}
