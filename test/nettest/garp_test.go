package nettest

import (
	"bytes"
	"net"
	"testing"
)

func TestGarpFrame(t *testing.T) {
	mac := net.HardwareAddr{0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x05}
	f := GARPFrame(net.ParseIP("10.244.1.5"), mac)
	want := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // eth dst
		0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x05, // eth src
		0x08, 0x06, // ARP
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // Ethernet/IPv4, request
		0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x05, 10, 244, 1, 5, // sender
		0, 0, 0, 0, 0, 0, 10, 244, 1, 5, // target
	}
	if len(f) != 60 {
		t.Fatalf("frame is %d bytes, want 60", len(f))
	}
	if !bytes.Equal(f[:len(want)], want) {
		t.Fatalf("frame = % x\nwant    % x", f[:len(want)], want)
	}
	if !bytes.Equal(f[len(want):], make([]byte, 60-len(want))) {
		t.Fatalf("padding is not zero: % x", f[len(want):])
	}
}
