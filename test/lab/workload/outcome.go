package workload

import (
	"context"
	"errors"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Outcome is what a probe saw.
type Outcome int

// Outcomes of a probe.
const (
	// Connected: the peer answered (TCP/SCTP handshake completed; UDP reply received).
	Connected Outcome = iota + 1
	// Refused: the peer's kernel rejected the attempt (TCP RST, SCTP ABORT, ICMP port unreachable for UDP).
	Refused
	// Timeout: nothing came back in time. A host or network unreachable error (no route, no neighbour
	// answering ARP) counts as a timeout too: the peer never answered.
	Timeout
)

// String returns connected, refused or timeout.
func (o Outcome) String() string {
	switch o {
	case Connected:
		return "connected"
	case Refused:
		return "refused"
	case Timeout:
		return "timeout"
	}
	return "unknown"
}

// classify maps a dial, read or write error to an outcome; ok is false when the error is not about reachability
// (the probe itself failed).
func classify(err error) (o Outcome, ok bool) {
	var ne net.Error
	switch {
	case errors.Is(err, unix.ECONNREFUSED):
		return Refused, true
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, unix.EHOSTUNREACH), errors.Is(err, unix.ENETUNREACH), errors.Is(err, unix.ETIMEDOUT):
		return Timeout, true
	case errors.As(err, &ne) && ne.Timeout():
		return Timeout, true
	}
	return 0, false
}
