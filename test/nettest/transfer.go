package nettest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// TransferTCP sends size random bytes over one TCP connection from the network namespace at fromNetns to a
// temporary listener in the namespace at toNetns, addressed as dst, and checks that exactly those bytes arrived.
// Large transfers exercise what small probes do not: segmentation offload, checksums, MTU.
func TransferTCP(fromNetns, toNetns, dst string, size int) error {
	var ln net.Listener
	if err := ns.WithNetNSPath(toNetns, func(ns.NetNS) (err error) {
		ln, err = net.Listen("tcp4", ":0")
		return err
	}); err != nil {
		return fmt.Errorf("listening in %s: %w", toNetns, err)
	}
	defer ln.Close()
	digest := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		if c, err := ln.Accept(); err == nil {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			_, _ = io.Copy(h, c)
			c.Close()
		}
		digest <- h.Sum(nil)
	}()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	addr := net.JoinHostPort(dst, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	if err := ns.WithNetNSPath(fromNetns, func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		_, err = c.Write(data)
		return err
	}); err != nil {
		return fmt.Errorf("sending %d bytes to %s: %w", size, addr, err)
	}
	want := sha256.Sum256(data)
	select {
	case got := <-digest:
		if !bytes.Equal(got, want[:]) {
			return fmt.Errorf("%d bytes sent to %s arrived corrupted or incomplete", size, addr)
		}
		return nil
	case <-time.After(40 * time.Second):
		return fmt.Errorf("%s did not finish receiving %d bytes", addr, size)
	}
}
