package flows

import (
	"strings"
	"testing"
)

func TestRegFieldText(t *testing.T) {
	cases := []struct {
		name      string
		got, want string
	}{
		{"PortKind match", FromPod.Match(), "reg0=0x3/0xf"},
		{"PortKind load", FromPod.Load(), "set_field:0x3/0xf->reg0"},
		{"OutputReady match", OutputReady.Match(), "reg0=0x10/0x10"},
		{"OutputReady load", OutputReady.Load(), "set_field:0x10/0x10->reg0"},
		{"TargetOFPort match", TargetOFPortField.Match(10), "reg1=0xa"},
		{"TargetOFPort load", TargetOFPortField.Load(10), "set_field:0xa->reg1"},
		{"whole register zero", TargetOFPortField.Match(0), "reg1=0"},
		{"field name range", PortKindField.String(), "NXM_NX_REG0[0..3]"},
		{"field name bit", OutputReadyField.String(), "NXM_NX_REG0[4]"},
		{"field name whole", TargetOFPortField.String(), "NXM_NX_REG1[]"},
		{"zero in a range", PortKindField.Load(0), "set_field:0/0xf->reg0"},
		{"high bits", RegField{Reg: 5, Start: 16, End: 31}.Match(0xffff), "reg5=0xffff0000/0xffff0000"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestPortKindsAreDistinctAndFit(t *testing.T) {
	seen := map[uint32]bool{}
	for _, m := range []RegMark{FromTunnel, FromGateway, FromPod} {
		if m.Field != PortKindField || m.Value == 0 || seen[m.Value] {
			t.Errorf("port kind %+v is not a distinct non-zero PortKind value", m)
		}
		seen[m.Value] = true
	}
	if PortKindField.mask()&OutputReadyField.mask() != 0 {
		t.Errorf("PortKind %s overlaps OutputReady %s", PortKindField, OutputReadyField)
	}
}

func TestCtFieldText(t *testing.T) {
	mark := CtMark{Field: CtField{Start: 1, End: 2}, Value: 2}
	if got, want := mark.Match(), "ct_mark=0x4/0x6"; got != want {
		t.Errorf("ct_mark match: got %q, want %q", got, want)
	}
	if got, want := mark.Set(), "set_field:0x4/0x6->ct_mark"; got != want {
		t.Errorf("ct_mark set: got %q, want %q", got, want)
	}
	label := CtMark{Field: CtField{Label: true, Start: 64, End: 127}, Value: 1}
	if got, want := label.Match(), "ct_label=0x10000000000000000/0xffffffffffffffff0000000000000000"; got != want {
		t.Errorf("ct_label match: got %q, want %q", got, want)
	}
	if got, want := (CtMark{Field: mark.Field}).Match(), "ct_mark=0/0x6"; got != want {
		t.Errorf("ct_mark zero match: got %q, want %q", got, want)
	}
	if got, want := label.Set(), "set_field:0x10000000000000000/0xffffffffffffffff0000000000000000->ct_label"; got != want {
		t.Errorf("ct_label set: got %q, want %q", got, want)
	}
}

func mustPanic(t *testing.T, what, wantInMessage string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", what)
			return
		}
		if msg, _ := r.(string); !strings.Contains(msg, wantInMessage) {
			t.Errorf("%s: panic %q does not mention %q", what, r, wantInMessage)
		}
	}()
	f()
}

func TestFieldValuesOutOfRangePanic(t *testing.T) {
	mustPanic(t, "PortKind 16", "does not fit", func() { PortKindField.Match(16) })
	mustPanic(t, "OutputReady 2", "does not fit", func() { OutputReadyField.Load(2) })
	mustPanic(t, "reg16", "invalid register field", func() { RegField{Reg: 16, End: 3}.Match(1) })
	mustPanic(t, "ct_mark bit 32", "invalid ct_mark field", func() { CtField{Start: 32, End: 32}.Match(1) })
	mustPanic(t, "ct_label 65 bits", "invalid ct_label field", func() { CtField{Label: true, Start: 0, End: 64}.Match(1) })
	mustPanic(t, "ct_mark value", "does not fit", func() { CtField{Start: 0, End: 1}.Set(4) })
}
