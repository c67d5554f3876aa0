package workload

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// streamServer answers every accepted connection of a stream listener (TCP, or SCTP wrapped as a net.Listener)
// with the name and a newline, then closes it.
type streamServer struct {
	proto string
	port  int
	name  string
	ln    net.Listener
}

// listenTCP binds port on every address (IPv4 and, when the namespace has it, IPv6).
func listenTCP(port int, name string) (*streamServer, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, fmt.Errorf("workload: binding tcp port %d: %w", port, err)
	}
	return &streamServer{proto: "tcp", port: port, name: name, ln: ln}, nil
}

func (s *streamServer) String() string { return fmt.Sprintf("%s port %d", s.proto, s.port) }

func (s *streamServer) Close() error { return s.ln.Close() }

func (s *streamServer) serve() error {
	answer := []byte(s.name + "\n")
	for {
		c, err := s.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			// Out of descriptors or an aborted handshake: pause briefly rather than spin or give up.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write(answer)
		_ = c.Close()
	}
}
