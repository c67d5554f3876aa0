package nettest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Flow dumps as text lines (ovs-ofctl dump-flows): what the restart and churn tests compare.

var cookieField = regexp.MustCompile(`cookie=0x([0-9a-f]+), ?`)

// WithoutCookies returns the flows with their cookie fields removed, sorted: two dumps are the same flow set across
// an agent restart (which stamps a new cookie round) when these are equal.
func WithoutCookies(flows []string) []string {
	out := make([]string, len(flows))
	for i, f := range flows {
		out[i] = cookieField.ReplaceAllString(f, "")
	}
	sort.Strings(out)
	return out
}

// CookieRounds counts the flows of each cookie round (the cookie's top 16 bits, see flows/cookie.go); flows
// without a cookie count as round 0.
func CookieRounds(flows []string) map[uint64]int {
	rs := map[uint64]int{}
	for _, f := range flows {
		m := cookieField.FindStringSubmatch(f)
		if m == nil {
			rs[0]++
			continue
		}
		c, _ := strconv.ParseUint(m[1], 16, 64)
		rs[c>>48]++
	}
	return rs
}

// RoundList shows CookieRounds sorted, e.g. "0x3(120 flows) 0x4(2 flows)".
func RoundList(rs map[uint64]int) string {
	var s []string
	for r, k := range rs {
		s = append(s, fmt.Sprintf("%#x(%d flows)", r, k))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

// MultisetDiff lists what a has more of than b ("- line (xN)") and what b has more of ("+ line (xN)"), sorted;
// empty when they hold the same lines the same number of times.
func MultisetDiff(a, b []string) string {
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	var d []string
	for x, c := range count {
		switch {
		case c > 0:
			d = append(d, fmt.Sprintf("- %s (x%d)", x, c))
		case c < 0:
			d = append(d, fmt.Sprintf("+ %s (x%d)", x, -c))
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}
