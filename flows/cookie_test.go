package flows

import "testing"

func TestCookieRoundTrip(t *testing.T) {
	c := MakeCookie(0xbeef, Policy, 0xab_cdef_0123)
	if c != 0xbeef_05_abcdef0123 {
		t.Fatalf("cookie %#x has the wrong layout", c)
	}
	round, category, object := ParseCookie(c)
	if round != 0xbeef || category != Policy || object != 0xab_cdef_0123 {
		t.Errorf("ParseCookie(%#x) = %#x, %v, %#x", c, round, category, object)
	}
}

func TestCookieMasks(t *testing.T) {
	a := MakeCookie(7, Pod, 42)
	sameRound := MakeCookie(7, Service, 1)
	otherRound := MakeCookie(8, Pod, 42)
	rc, rm := RoundCookie(7)
	if a&rm != rc || sameRound&rm != rc || otherRound&rm == rc {
		t.Errorf("round 7 cookie/mask %#x/%#x selects the wrong flows", rc, rm)
	}
	oc, om := ObjectCookie(Pod, 42)
	if a&om != oc || otherRound&om != oc {
		t.Errorf("object cookie/mask %#x/%#x misses the object's flows of another round", oc, om)
	}
	if MakeCookie(7, Node, 42)&om == oc || MakeCookie(7, Pod, 43)&om == oc {
		t.Errorf("object cookie/mask %#x/%#x selects another object", oc, om)
	}
	if RoundMask&ObjectMask != 0 || RoundMask|ObjectMask != ^uint64(0) {
		t.Errorf("round mask %#x and object mask %#x do not split the cookie", RoundMask, ObjectMask)
	}
}

func TestCookieObjectIDTooLargePanics(t *testing.T) {
	mustPanic(t, "41-bit object id", "does not fit in 40 bits", func() { MakeCookie(1, Pod, 1<<40) })
}

func TestCategoryString(t *testing.T) {
	want := map[Category]string{Pipeline: "Pipeline", Pod: "Pod", Node: "Node", Service: "Service", Policy: "Policy", 9: "Category(9)"}
	for c, s := range want {
		if c.String() != s {
			t.Errorf("Category(%d).String() = %q, want %q", uint8(c), c.String(), s)
		}
	}
}
