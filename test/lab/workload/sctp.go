package workload

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrNoSCTP says the kernel has no SCTP (socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) is not supported even after
// modprobe sctp).
var ErrNoSCTP = errors.New("the kernel has no SCTP support")

var modprobeSCTP sync.Once

// sctpSocket opens a non-blocking, close-on-exec one-to-one SCTP socket in the calling thread's network
// namespace, loading the sctp module once if the kernel does not know the protocol yet.
func sctpSocket() (int, error) {
	open := func() (int, error) {
		return unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	}
	fd, err := open()
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ESOCKTNOSUPPORT) {
		modprobeSCTP.Do(func() { _ = exec.Command("modprobe", "sctp").Run() })
		fd, err = open()
	}
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ESOCKTNOSUPPORT) {
		return -1, fmt.Errorf("%w (%v)", ErrNoSCTP, err)
	}
	if err != nil {
		return -1, fmt.Errorf("opening an SCTP socket: %w", err)
	}
	return fd, nil
}

// listenSCTP binds port on every IPv4 address. The socket is handed to the Go runtime as a stream listener
// (net.FileListener sees a SOCK_STREAM AF_INET socket): accept, write and close work on SCTP unchanged.
func listenSCTP(port int, name string) (*streamServer, error) {
	fd, err := sctpSocket()
	if err != nil {
		return nil, fmt.Errorf("workload: sctp port %d: %w", port, err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("sctp:%d", port))
	defer f.Close() // FileListener duplicates the descriptor
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, fmt.Errorf("workload: sctp port %d: SO_REUSEADDR: %w", port, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		return nil, fmt.Errorf("workload: binding sctp port %d: %w", port, err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		return nil, fmt.Errorf("workload: listening on sctp port %d: %w", port, err)
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("workload: sctp port %d: %w", port, err)
	}
	return &streamServer{proto: "sctp", port: port, name: name, ln: ln}, nil
}
