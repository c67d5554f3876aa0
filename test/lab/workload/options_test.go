package workload

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestArgsRoundTripThroughBindFlags(t *testing.T) {
	in := Options{Name: "web-0", TCP: []int{80, 8080}, UDP: []int{53}, SCTP: []int{9000}, ReadyFile: "/tmp/r"}
	var out Options
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs, &out)
	if err := fs.Parse(in.Args()); err != nil {
		t.Fatalf("parsing %v: %v", in.Args(), err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
}

func TestArgsOmitEmpty(t *testing.T) {
	got := Options{Name: "x"}.Args()
	if !reflect.DeepEqual(got, []string{"--name=x"}) {
		t.Fatalf("got %v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "name is empty"},
		{Options{Name: "a", TCP: []int{0}}, "tcp port 0"},
		{Options{Name: "a", UDP: []int{70000}}, "udp port 70000"},
		{Options{Name: "a", SCTP: []int{5, 5}}, "sctp port 5 is listed twice"},
	} {
		err := tc.o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.o, err, tc.want)
		}
	}
	if err := (Options{Name: "a", TCP: []int{80}, UDP: []int{80}}).Validate(); err != nil {
		t.Errorf("same port on two protocols: %v", err)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Connected: "connected", Refused: "refused", Timeout: "timeout", 0: "unknown"} {
		if o.String() != want {
			t.Errorf("%d: got %q want %q", o, o.String(), want)
		}
	}
}
