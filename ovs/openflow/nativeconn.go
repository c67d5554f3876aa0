package openflow

import (
	"bufio"
	"bytes"
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

// nativeConn is an OpenFlow 1.5 connection to the bridge's management socket, kept open (Config.NativeBundles).
// It applies bundles of flow adds and strict deletes itself: an ovs-ofctl bundle costs a process (exec and dynamic
// linking, ~2-3 ms of CPU) and four round trips through ovs-vswitchd's main loop (connect, hello, open, commit);
// this one costs two (open+adds+barrier, commit) and no process. Bundles it cannot encode, and any failure to talk
// to the switch, fall back to ovs-ofctl (Client.Bundle). It also asks the switch for the port-status messages of
// added ports (and only those), which tell that a port exists before vswitchd has written its number to OVSDB
// (WatchPortAdded).
type nativeConn struct {
	path string // the unix socket

	bundleMu sync.Mutex // one bundle at a time
	xid      uint32     // under bundleMu
	bundleID uint32     // under bundleMu

	mu      sync.Mutex // guards the fields below
	conn    net.Conn
	replies chan ofReply  // the current connection's messages other than echo requests and port status
	dead    chan struct{} // closed when the current connection's reader stops
	watches map[string][]chan uint32
}

// ofReply is one message read from the switch.
type ofReply struct {
	typ  uint8
	xid  uint32
	body []byte
}

// newNativeConn returns a connection for target ("unix:/path/br-int.mgmt"), or nil if the target is not a unix
// socket.
func newNativeConn(target string) *nativeConn {
	path, ok := strings.CutPrefix(target, "unix:")
	if !ok || path == "" {
		return nil
	}
	return &nativeConn{path: path, watches: map[string][]chan uint32{}}
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
	n.bundleMu.Lock()
	defer n.bundleMu.Unlock()
	first := n.xid + 1
	n.bundleID++
	id := n.bundleID
	msgs := bundleControlMessage(first, id, bundleOpenRequest)
	for i, m := range mods {
		xid := first + 1 + uint32(i)
		fm, ok := encodeFlowMod(m, xid)
		if !ok {
			return errNotEncodable
		}
		msgs = append(msgs, bundleAddMessage(xid, id, fm)...)
	}
	barrier := first + 1 + uint32(len(mods))
	msgs = append(msgs, ofMessage(ofptBarrierReq, barrier, nil)...)
	commit := barrier + 1
	n.xid = commit + 1

	conn, replies, dead, err := n.connect(ctx)
	if err != nil {
		return err
	}
	if err := n.write(ctx, conn, msgs); err != nil {
		return err
	}
	var refused *rejection
	if err := n.await(ctx, conn, replies, dead, barrier, func(e ofError) {
		if refused == nil {
			refused = &rejection{mod: int(e.xid) - int(first) - 1, err: e}
		}
	}); err != nil {
		return err
	}
	if refused != nil {
		// Leave nothing half-built behind (the switch also drops an uncommitted bundle when the connection closes,
		// but the connection stays for the next one).
		if err := n.write(ctx, conn, bundleControlMessage(commit, id, bundleDiscardRequest)); err != nil {
			return errors.Join(refused, err)
		}
		if err := n.await(ctx, conn, replies, dead, commit, func(ofError) {}); err != nil {
			return errors.Join(refused, err)
		}
		return refused
	}
	if err := n.write(ctx, conn, bundleControlMessage(commit, id, bundleCommitRequest)); err != nil {
		return err
	}
	if err := n.await(ctx, conn, replies, dead, commit, func(e ofError) {
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

// await takes the connection's messages until the reply to xid (an error for xid ends it too), handing every
// error to onError.
func (n *nativeConn) await(ctx context.Context, conn net.Conn, replies <-chan ofReply, dead <-chan struct{}, xid uint32,
	onError func(ofError)) error {
	for {
		select {
		case r := <-replies:
			if r.typ == ofptError {
				e := ofError{xid: r.xid}
				if len(r.body) >= 4 {
					e.typ, e.code = binary.BigEndian.Uint16(r.body), binary.BigEndian.Uint16(r.body[2:])
				}
				onError(e)
			}
			if r.xid == xid {
				return nil
			}
		case <-dead:
			return fmt.Errorf("%w: %s: the connection closed", errTransport, n.path)
		case <-ctx.Done():
			n.drop(conn) // the answer may still come: a new connection cannot confuse it with the next one's
			return fmt.Errorf("%w: %s: %v", errTransport, n.path, ctx.Err())
		}
	}
}

// connect returns the open connection, or opens one: hellos, then the asynchronous messages it wants (port status
// for added ports, nothing else), then a reader.
func (n *nativeConn) connect(ctx context.Context) (net.Conn, chan ofReply, chan struct{}, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil {
		return n.conn, n.replies, n.dead, nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", n.path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: connect %s: %v", errTransport, n.path, err)
	}
	fail := func(err error) (net.Conn, chan ofReply, chan struct{}, error) {
		conn.Close()
		return nil, nil, nil, fmt.Errorf("%w: %s: %v", errTransport, n.path, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	if _, err := conn.Write(helloMessage(0)); err != nil {
		return fail(err)
	}
	if typ, _, _, err := readMessage(r); err != nil {
		return fail(err)
	} else if typ != ofptHello {
		return fail(fmt.Errorf("expected a hello, got message type %d", typ))
	}
	if _, err := conn.Write(append(setConfigMessage(0), setAsyncMessage(0)...)); err != nil {
		return fail(err)
	}
	_ = conn.SetDeadline(time.Time{})
	n.conn, n.replies, n.dead = conn, make(chan ofReply, 64), make(chan struct{})
	go n.read(conn, r, n.replies, n.dead)
	return n.conn, n.replies, n.dead, nil
}

// read reads the connection until it fails: it answers echo requests, hands added ports to their watchers and
// everything else to the bundle waiting for it.
func (n *nativeConn) read(conn net.Conn, r *bufio.Reader, replies chan<- ofReply, dead chan<- struct{}) {
	defer close(dead)
	defer n.drop(conn)
	for {
		typ, xid, body, err := readMessage(r)
		if err != nil {
			return
		}
		switch typ {
		case ofptEchoRequest:
			if _, err := conn.Write(ofMessage(ofptEchoReply, xid, body)); err != nil {
				return
			}
		case ofptPortStatus:
			if name, port, ok := portAdded(body); ok {
				n.portAdded(name, port)
			}
		default:
			select {
			case replies <- ofReply{typ, xid, body}:
			default: // nobody is waiting for that many: an answer to a bundle given up on
			}
		}
	}
}

// WatchPortAdded returns a channel that receives the OpenFlow port number of the port called name once the switch
// reports it added, and a function to stop watching. ok is false when the connection is not open (nothing will be
// reported).
func (n *nativeConn) watchPortAdded(name string) (<-chan uint32, func(), bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil, func() {}, false
	}
	ch := make(chan uint32, 1)
	n.watches[name] = append(n.watches[name], ch)
	return ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		list := n.watches[name]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(n.watches, name)
		} else {
			n.watches[name] = list
		}
	}, true
}

func (n *nativeConn) portAdded(name string, port uint32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ch := range n.watches[name] {
		select {
		case ch <- port:
		default:
		}
	}
}

// barrier sends a barrier request and waits for its reply: everything the switch did before it processed the
// request is done, its translation of packets included (ovs-vswitchd handles OpenFlow requests after it has
// updated its datapath ports and translation for a new port, within the same round of its main loop).
func (n *nativeConn) barrier(ctx context.Context) error {
	n.bundleMu.Lock()
	defer n.bundleMu.Unlock()
	n.xid++
	xid := n.xid
	conn, replies, dead, err := n.connect(ctx)
	if err != nil {
		return err
	}
	if err := n.write(ctx, conn, ofMessage(ofptBarrierReq, xid, nil)); err != nil {
		return err
	}
	return n.await(ctx, conn, replies, dead, xid, func(ofError) {})
}

// portAdded reads an OFPT_PORT_STATUS body: the name and number of an added port.
func portAdded(body []byte) (string, uint32, bool) {
	// reason (1), pad (7), then ofp_port: port_no (4), length (2), pad (2), hw_addr (6), pad (2), name (16).
	if len(body) < 8+32 || body[0] != portReasonAdd {
		return "", 0, false
	}
	port := binary.BigEndian.Uint32(body[8:])
	name := body[8+16 : 8+32]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return string(name), port, true
}

// write sends msgs within ctx; a failure drops the connection.
func (n *nativeConn) write(ctx context.Context, conn net.Conn, msgs []byte) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetWriteDeadline(dl)
	} else {
		_ = conn.SetWriteDeadline(time.Time{})
	}
	if _, err := conn.Write(msgs); err != nil {
		n.drop(conn)
		return fmt.Errorf("%w: %s: %v", errTransport, n.path, err)
	}
	return nil
}

// drop closes conn if it is still the current connection; the next bundle connects again. Watchers of that
// connection hear nothing more: their waits end by OVSDB or by their contexts.
func (n *nativeConn) drop(conn net.Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == conn {
		n.conn = nil
	}
	_ = conn.Close()
}

// close closes the connection, if open.
func (n *nativeConn) close() {
	n.mu.Lock()
	conn := n.conn
	n.mu.Unlock()
	if conn != nil {
		n.drop(conn)
	}
}

// readMessage reads one message; the switch must speak OpenFlow 1.5 on it.
func readMessage(r io.Reader) (typ uint8, xid uint32, body []byte, err error) {
	var h [ofHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	length := int(binary.BigEndian.Uint16(h[2:]))
	if length < ofHeaderSize {
		return 0, 0, nil, fmt.Errorf("message length %d", length)
	}
	body = make([]byte, length-ofHeaderSize)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, nil, err
	}
	if h[0] != ofVersion15 {
		return 0, 0, nil, fmt.Errorf("the switch answered in OpenFlow version %#x, not 1.5", h[0])
	}
	return h[1], binary.BigEndian.Uint32(h[4:]), body, nil
}
