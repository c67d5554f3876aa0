package policy

import (
	"fmt"
	"net/netip"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestParseIPBlockFlattensExcepts(t *testing.T) {
	for _, tc := range []struct {
		cidr    string
		except  []string
		want    string
		wantErr string
	}{
		{cidr: "10.0.0.0/8", want: "[10.0.0.0/8]"},
		{cidr: "10.1.2.3/8", want: "[10.0.0.0/8]"}, // host bits masked
		{cidr: "10.0.0.0/8", except: []string{"10.0.0.0/9"}, want: "[10.128.0.0/9]"},
		{cidr: "10.0.0.0/30", except: []string{"10.0.0.1/32"}, want: "[10.0.0.0/32 10.0.0.2/31]"},
		{cidr: "10.0.0.0/30", except: []string{"10.0.0.1/32", "10.0.0.0/31"}, want: "[10.0.0.2/31]"},
		{cidr: "0.0.0.0/0", except: []string{"128.0.0.0/1", "0.0.0.0/1"}, want: "[]"},
		{cidr: "10.0.0.0/8", except: []string{"0.0.0.0/0"}, want: "[]"},
		{cidr: "10.0.0.0/8", except: []string{"192.168.0.0/16", "fd00::/8"}, want: "[10.0.0.0/8]"},
		{cidr: "fd00::/8", except: []string{"fd00::/9"}, want: "[fd80::/9]"},
		{cidr: "::ffff:10.0.0.0/104", want: "[10.0.0.0/8]"},
		{cidr: "10.0.0.0", wantErr: `ipBlock.cidr: "10.0.0.0" is not a CIDR`},
		{cidr: "10.0.0.0/8", except: []string{"10.0.0.0/33"}, wantErr: `ipBlock.except[0]: "10.0.0.0/33" is not a CIDR`},
	} {
		got, err := parseIPBlock(&networkingv1.IPBlock{CIDR: tc.cidr, Except: tc.except})
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s except %v: error %v, want %q", tc.cidr, tc.except, err, tc.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("%s except %v: got %v, %v; want %s", tc.cidr, tc.except, got, err, tc.want)
		}
	}
}

// Flattening is exact: an address is in the result iff it is in cidr and in no except, and the result's
// prefixes do not overlap.
func TestParseIPBlockIsSetSubtraction(t *testing.T) {
	block := &networkingv1.IPBlock{CIDR: "10.0.0.0/24", Except: []string{"10.0.0.17/32", "10.0.0.64/27", "10.0.0.96/28", "10.0.0.200/30"}}
	got, err := parseIPBlock(block)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(got) - 1 {
		if got[i].Overlaps(got[i+1]) {
			t.Errorf("%s and %s overlap", got[i], got[i+1])
		}
	}
	for i := range 300 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		want := i < 256
		for _, e := range block.Except {
			want = want && !netip.MustParsePrefix(e).Masked().Contains(ip)
		}
		if containsAddr(got, ip) != want {
			t.Errorf("%s: in result %t, want %t", ip, !want, want)
		}
	}
}
