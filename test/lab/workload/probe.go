package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// maxReply bounds how much of an answer a probe reads.
const maxReply = 4096

// udpResend is how often a UDP probe repeats its datagram while waiting (a lost datagram or a rate-limited ICMP
// error must not turn into a timeout when the timeout allows another try).
const udpResend = 250 * time.Millisecond

// Probe connects from inside the network namespace at netnsPath (the caller's when empty) to target (host:port)
// over proto (tcp, udp or sctp) and returns the peer's answer with surrounding white space trimmed. Outcome says
// what happened; err is non-nil only when the probe could not be made (bad arguments, no such namespace, no SCTP
// in the kernel, ctx cancelled) and then outcome is 0. Probe is safe to call from many goroutines at once; each
// call uses its own socket and returns within timeout.
func Probe(ctx context.Context, netnsPath, target, proto string, timeout time.Duration) (string, Outcome, error) {
	if timeout <= 0 {
		return "", 0, fmt.Errorf("workload: probe %s %s: timeout %v must be positive", proto, target, timeout)
	}
	if _, _, err := net.SplitHostPort(target); err != nil {
		return "", 0, fmt.Errorf("workload: probe %s: target %q is not host:port: %w", proto, target, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var reply string
	var err error
	switch proto {
	case "tcp":
		reply, err = probeTCP(ctx, netnsPath, target)
	case "udp":
		reply, err = probeUDP(ctx, netnsPath, target)
	case "sctp":
		reply, err = probeSCTP(ctx, netnsPath, target)
	default:
		return "", 0, fmt.Errorf("workload: probe %s: protocol %q is not tcp, udp or sctp", target, proto)
	}
	if err == nil {
		return strings.TrimSpace(reply), Connected, nil
	}
	if o, ok := classify(err); ok && context.Cause(ctx) != context.Canceled {
		return "", o, nil
	}
	return "", 0, fmt.Errorf("workload: probe %s %s from %q: %w", proto, target, netnsPath, err)
}

// probeTCP dials target from the namespace and reads the answer until the peer closes or ctx ends.
func probeTCP(ctx context.Context, netnsPath, target string) (string, error) {
	var conn net.Conn
	var dialErr error
	if err := inNetns(netnsPath, func() {
		var d net.Dialer
		conn, dialErr = d.DialContext(ctx, "tcp", target)
	}); err != nil {
		return "", err
	}
	if dialErr != nil {
		return "", dialErr
	}
	return readAnswer(ctx, conn), nil
}

// readAnswer reads what the peer sends until it closes, fails or ctx ends, then closes conn. The connection was
// established, so any answer (even none) counts as connected.
func readAnswer(ctx context.Context, conn net.Conn) string {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	b, _ := io.ReadAll(io.LimitReader(conn, maxReply))
	return string(b)
}

// probeUDP sends a datagram from a connected socket in the namespace and waits for the answer, resending every
// udpResend. ECONNREFUSED on read or write is the ICMP port unreachable the peer sent back.
func probeUDP(ctx context.Context, netnsPath, target string) (string, error) {
	var conn net.Conn
	var dialErr error
	if err := inNetns(netnsPath, func() {
		var d net.Dialer
		conn, dialErr = d.DialContext(ctx, "udp", target)
	}); err != nil {
		return "", err
	}
	if dialErr != nil {
		return "", dialErr
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	buf := make([]byte, maxReply)
	for {
		if _, err := conn.Write([]byte("probe")); err != nil {
			return "", err
		}
		next := time.Now().Add(udpResend)
		if d, ok := ctx.Deadline(); ok && d.Before(next) {
			next = d
		}
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		_ = conn.SetReadDeadline(next)
		n, err := conn.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return "", err
		}
	}
}
