package openflow

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// nativeConn is an OpenFlow 1.5 connection to the bridge's management socket, kept open, that applies bundles of
// flow adds and strict deletes itself (Config.NativeBundles). An ovs-ofctl bundle costs a process (exec and
// dynamic linking, ~2-3 ms of CPU) and four round trips through ovs-vswitchd's main loop (connect, hello, open,
// commit); this one costs two (open+adds+barrier, commit) and no process. Bundles it cannot encode, and any
// failure to talk to the switch, fall back to ovs-ofctl (Client.Bundle).
type nativeConn struct {
	path string // the unix socket

	mu       sync.Mutex
	conn     net.Conn
	r        *bufio.Reader
	xid      uint32
	bundleID uint32
}

// newNativeConn returns a connection for target ("unix:/path/br-int.mgmt"), or nil if the target is not a unix
// socket.
func newNativeConn(target string) *nativeConn {
	path, ok := strings.CutPrefix(target, "unix:")
	if !ok || path == "" {
		return nil
	}
	return &nativeConn{path: path}
}

// errTransport marks a failure to talk to the switch: the bundle may or may not have been applied.
var errTransport = errors.New("openflow connection")

// rejection is a bundle the switch refused: nothing of it was applied.
type rejection struct {
	mod int // index of the refused mod, -1 for the bundle as a whole
	err ofError
}

func (r *rejection) Error() string { return r.err.String() }

// bundle applies mods atomically: open, every mod, barrier; if the switch refused none, commit. It returns
// errNotEncodable (nothing sent), a *rejection (nothing applied), or an error wrapping errTransport.
func (n *nativeConn) bundle(ctx context.Context, mods []Mod) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	first := n.xid + 1
	var adds []byte
	n.bundleID++
	id := n.bundleID
	adds = append(adds, bundleControlMessage(first, id, bundleOpenRequest)...)
	for i, m := range mods {
		xid := first + 1 + uint32(i)
		fm, ok := encodeFlowMod(m, xid)
		if !ok {
			return errNotEncodable
		}
		adds = append(adds, bundleAddMessage(xid, id, fm)...)
	}
	barrier := first + 1 + uint32(len(mods))
	adds = append(adds, ofMessage(ofptBarrierReq, barrier, nil)...)
	commit := barrier + 1
	n.xid = commit + 1

	if err := n.connect(ctx); err != nil {
		return err
	}
	stop := n.deadline(ctx)
	defer stop()
	if _, err := n.conn.Write(adds); err != nil {
		return n.fail(err)
	}
	var refused *rejection
	if err := n.readUntil(barrier, func(e ofError) {
		if refused == nil {
			refused = &rejection{mod: int(e.xid) - int(first) - 1, err: e}
		}
	}); err != nil {
		return err
	}
	if refused != nil {
		// Leave nothing half-built behind: the switch drops an uncommitted bundle when the connection closes too,
		// but the connection stays for the next one.
		if _, err := n.conn.Write(bundleControlMessage(commit, id, bundleDiscardRequest)); err != nil {
			return errors.Join(refused, n.fail(err))
		}
		if err := n.readUntil(commit, func(ofError) {}); err != nil {
			return errors.Join(refused, err)
		}
		return refused
	}
	if _, err := n.conn.Write(bundleControlMessage(commit, id, bundleCommitRequest)); err != nil {
		return n.fail(err)
	}
	if err := n.readUntil(commit, func(e ofError) {
		if refused == nil {
			refused = &rejection{mod: -1, err: e}
		}
	}); err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	return nil
}

// readUntil reads messages until the reply to xid (an error for xid ends it too), answering echo requests and
// handing every error to onError.
func (n *nativeConn) readUntil(xid uint32, onError func(ofError)) error {
	for {
		typ, gotXID, body, err := n.read()
		if err != nil {
			return n.fail(err)
		}
		switch typ {
		case ofptEchoRequest:
			if _, err := n.conn.Write(ofMessage(ofptEchoReply, gotXID, body)); err != nil {
				return n.fail(err)
			}
			continue
		case ofptError:
			e := ofError{xid: gotXID}
			if len(body) >= 4 {
				e.typ, e.code = binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:])
			}
			if len(body) >= 6 {
				e.failedType = body[5]
			}
			onError(e)
		}
		if gotXID == xid && typ != ofptEchoRequest {
			return nil
		}
	}
}

// connect opens the connection and exchanges hellos, if it is not open.
func (n *nativeConn) connect(ctx context.Context) error {
	if n.conn != nil {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", n.path)
	if err != nil {
		return fmt.Errorf("%w: connect %s: %v", errTransport, n.path, err)
	}
	n.conn, n.r = conn, bufio.NewReader(conn)
	stop := n.deadline(ctx)
	defer stop()
	n.xid++
	if _, err := conn.Write(helloMessage(n.xid)); err != nil {
		return n.fail(err)
	}
	typ, _, body, err := n.read()
	if err != nil {
		return n.fail(err)
	}
	if typ != ofptHello {
		return n.fail(fmt.Errorf("expected a hello, got message type %d", typ))
	}
	_ = body
	return nil
}

// read reads one message; the switch must speak OpenFlow 1.5 on it.
func (n *nativeConn) read() (typ uint8, xid uint32, body []byte, err error) {
	var h [ofHeaderSize]byte
	if _, err := io.ReadFull(n.r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	length := int(binary.BigEndian.Uint16(h[2:]))
	if length < ofHeaderSize {
		return 0, 0, nil, fmt.Errorf("message length %d", length)
	}
	body = make([]byte, length-ofHeaderSize)
	if _, err := io.ReadFull(n.r, body); err != nil {
		return 0, 0, nil, err
	}
	if h[0] != ofVersion15 {
		return 0, 0, nil, fmt.Errorf("the switch answered in OpenFlow version %#x, not 1.5", h[0])
	}
	return h[1], binary.BigEndian.Uint32(h[4:]), body, nil
}

// deadline applies ctx's deadline (and its cancellation) to the connection until the returned func is called.
func (n *nativeConn) deadline(ctx context.Context) func() {
	if d, ok := ctx.Deadline(); ok {
		_ = n.conn.SetDeadline(d)
	} else {
		_ = n.conn.SetDeadline(time.Time{})
	}
	conn := n.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	return func() { stop() }
}

// fail closes the connection (the next bundle connects again) and wraps err as a transport failure.
func (n *nativeConn) fail(err error) error {
	if n.conn != nil {
		_ = n.conn.Close()
		n.conn, n.r = nil, nil
	}
	return fmt.Errorf("%w: %s: %v", errTransport, n.path, err)
}

// close closes the connection, if open.
func (n *nativeConn) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil {
		_ = n.conn.Close()
		n.conn, n.r = nil, nil
	}
}
