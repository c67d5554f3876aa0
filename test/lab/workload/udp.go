package workload

import (
	"errors"
	"fmt"
	"net"

	"github.com/sirupsen/logrus"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpServer answers every datagram with the name, from the address the datagram was sent to (IP_PKTINFO), so a
// client with a connected socket accepts the answer even in a namespace with several addresses.
type udpServer struct {
	family string // "udp4" or "udp6"
	port   int
	name   string
	conn   net.PacketConn
	read   func(b []byte) (n int, dst net.IP, src net.Addr, err error)
	write  func(b []byte, src net.IP, to net.Addr) error
}

// listenUDP binds port on every IPv4 address and, when the namespace has IPv6, on every IPv6 address.
func listenUDP(port int, name string, log logrus.FieldLogger) ([]server, error) {
	v4, err := listenUDP4(port, name)
	if err != nil {
		return nil, err
	}
	v6, err := listenUDP6(port, name)
	if err != nil {
		log.Debugf("udp port %d: IPv4 only: %v", port, err)
		return []server{v4}, nil
	}
	return []server{v4, v6}, nil
}

func listenUDP4(port int, name string) (*udpServer, error) {
	c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, fmt.Errorf("workload: binding udp port %d: %w", port, err)
	}
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("workload: udp port %d: enabling IP_PKTINFO: %w", port, err)
	}
	return &udpServer{family: "udp4", port: port, name: name, conn: c,
		read: func(b []byte) (int, net.IP, net.Addr, error) {
			n, cm, src, err := pc.ReadFrom(b)
			if cm == nil {
				return n, nil, src, err
			}
			return n, cm.Dst, src, err
		},
		write: func(b []byte, srcIP net.IP, to net.Addr) error {
			var cm *ipv4.ControlMessage
			if srcIP != nil {
				cm = &ipv4.ControlMessage{Src: srcIP}
			}
			_, err := pc.WriteTo(b, cm, to)
			return err
		}}, nil
}

func listenUDP6(port int, name string) (*udpServer, error) {
	c, err := net.ListenPacket("udp6", fmt.Sprintf("[::]:%d", port)) // IPV6_V6ONLY: the IPv4 socket has IPv4
	if err != nil {
		return nil, fmt.Errorf("workload: binding udp6 port %d: %w", port, err)
	}
	pc := ipv6.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv6.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("workload: udp6 port %d: enabling IPV6_RECVPKTINFO: %w", port, err)
	}
	return &udpServer{family: "udp6", port: port, name: name, conn: c,
		read: func(b []byte) (int, net.IP, net.Addr, error) {
			n, cm, src, err := pc.ReadFrom(b)
			if cm == nil {
				return n, nil, src, err
			}
			return n, cm.Dst, src, err
		},
		write: func(b []byte, srcIP net.IP, to net.Addr) error {
			var cm *ipv6.ControlMessage
			if srcIP != nil {
				cm = &ipv6.ControlMessage{Src: srcIP}
			}
			_, err := pc.WriteTo(b, cm, to)
			return err
		}}, nil
}

func (s *udpServer) String() string { return fmt.Sprintf("%s port %d", s.family, s.port) }

func (s *udpServer) Close() error { return s.conn.Close() }

func (s *udpServer) serve() error {
	answer := []byte(s.name)
	buf := make([]byte, 64*1024)
	for {
		_, dst, src, err := s.read(buf)
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			continue // e.g. ECONNREFUSED left by an ICMP error for an earlier answer
		}
		if dst != nil && !dst.IsGlobalUnicast() && !dst.IsLoopback() {
			dst = nil // broadcast or multicast: let the kernel pick the source
		}
		_ = s.write(answer, dst, src)
	}
}
