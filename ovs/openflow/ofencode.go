package openflow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// encodeFlowMod encodes a flow add or strict delete for the native connection, if its match and actions use only
// what encodeMatch and encodeActions know (the pod flows, among others). ok is false for anything else: such a mod
// goes through ovs-ofctl, which knows all of OVS's syntax. The encoding must install exactly the flow ovs-ofctl
// would install from the same text (nativeconn_ovs_test.go compares the two on a real switch).
func encodeFlowMod(m Mod, xid uint32) (msg []byte, ok bool) {
	var cmd uint8
	switch m.Op {
	case AddFlow:
		cmd = flowModAdd
	case DeleteFlow:
		cmd = flowModDeleteStrict
	default:
		return nil, false
	}
	match, ok := encodeMatch(m.Flow.Match)
	if !ok {
		return nil, false
	}
	var instructions []byte
	if m.Op == AddFlow {
		if instructions, ok = encodeInstructions(m.Flow.Actions); !ok {
			return nil, false
		}
	}
	return flowModMessage(xid, cmd, m.Flow, match, instructions), true
}

// matchFields are the match keys encodeMatch knows, by ovs-ofctl's names, in the order their OXM TLVs go out
// (a field's prerequisite, the Ethernet type, before it).
var matchFields = map[string]oxmField{
	"in_port": oxmInPort,
	"dl_src":  oxmEthSrc, "eth_src": oxmEthSrc, "dl_dst": oxmEthDst, "eth_dst": oxmEthDst,
	"nw_src": oxmIPv4Src, "ip_src": oxmIPv4Src, "nw_dst": oxmIPv4Dst, "ip_dst": oxmIPv4Dst,
	"arp_op": oxmARPOp, "arp_spa": oxmARPSPA, "arp_tpa": oxmARPTPA, "arp_sha": oxmARPSHA, "arp_tha": oxmARPTHA,
}

// encodeMatch encodes match text such as "ip,in_port=3,dl_src=0a:58:0a:f4:01:02,nw_src=10.244.1.2" or
// "reg0=0x10/0x10,reg1=0xa". Protocols "ip" and "arp", the fields of matchFields and registers reg0-reg15.
func encodeMatch(text string) ([]byte, bool) {
	var ethType []byte
	type entry struct {
		f           oxmField
		value, mask []byte
	}
	var entries []entry
	seen := map[oxmField]bool{}
	for _, tok := range splitTop(text) {
		if tok == "" {
			continue
		}
		key, val, hasVal := strings.Cut(tok, "=")
		if !hasVal {
			switch key {
			case "ip":
				ethType = []byte{0x08, 0x00}
			case "arp":
				ethType = []byte{0x08, 0x06}
			default:
				return nil, false
			}
			continue
		}
		f, ok := matchFields[key]
		if !ok {
			n, isReg := regNumber(key)
			if !isReg {
				return nil, false
			}
			f = oxmReg(n)
		}
		if seen[f] {
			return nil, false
		}
		seen[f] = true
		value, mask, ok := parseFieldValue(f, val, true)
		if !ok {
			return nil, false
		}
		entries = append(entries, entry{f, value, mask})
	}
	var b []byte
	for _, e := range entries { // in_port first: it has no prerequisite
		if e.f == oxmInPort {
			b = putOXM(b, e.f, e.value, e.mask)
		}
	}
	if ethType != nil {
		b = putOXM(b, oxmEthType, ethType, nil)
	}
	for _, e := range entries {
		if e.f == oxmInPort {
			continue
		}
		switch e.f {
		case oxmIPv4Src, oxmIPv4Dst:
			if string(ethType) != "\x08\x00" {
				return nil, false // let ovs-ofctl say what is missing
			}
		case oxmARPOp, oxmARPSPA, oxmARPTPA, oxmARPSHA, oxmARPTHA:
			if string(ethType) != "\x08\x06" {
				return nil, false
			}
		}
		b = putOXM(b, e.f, e.value, e.mask)
	}
	return b, true
}

// encodeInstructions encodes actions text: an apply-actions instruction with output:N, IN_PORT, dec_ttl,
// set_field:V[/M]->F and move:A[]->B[] (whole fields), then goto_table:N if it comes last. "drop" or nothing: no
// instructions.
func encodeInstructions(text string) ([]byte, bool) {
	if text == "" || text == "drop" {
		return nil, true
	}
	var actions []byte
	goTo := -1
	toks := splitTop(text)
	for i, tok := range toks {
		switch {
		case strings.HasPrefix(tok, "goto_table:"):
			if i != len(toks)-1 {
				return nil, false
			}
			n, err := strconv.ParseUint(strings.TrimPrefix(tok, "goto_table:"), 10, 8)
			if err != nil {
				return nil, false
			}
			goTo = int(n)
		case tok == "IN_PORT":
			actions = putOutput(actions, ofppInPort)
		case strings.HasPrefix(tok, "output:"):
			n, err := strconv.ParseUint(strings.TrimPrefix(tok, "output:"), 10, 32)
			if err != nil || n == 0 || n >= 0xffffff00 {
				return nil, false
			}
			actions = putOutput(actions, uint32(n))
		case tok == "dec_ttl":
			actions = binary.BigEndian.AppendUint16(actions, ofpatDecNwTTL)
			actions = binary.BigEndian.AppendUint16(actions, 8)
			actions = append(actions, 0, 0, 0, 0)
		case strings.HasPrefix(tok, "set_field:"):
			var ok bool
			if actions, ok = putSetField(actions, strings.TrimPrefix(tok, "set_field:")); !ok {
				return nil, false
			}
		case strings.HasPrefix(tok, "move:"):
			var ok bool
			if actions, ok = putMove(actions, strings.TrimPrefix(tok, "move:")); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	var b []byte
	if len(actions) > 0 {
		b = binary.BigEndian.AppendUint16(b, ofpitApplyActions)
		b = binary.BigEndian.AppendUint16(b, uint16(8+len(actions)))
		b = append(b, 0, 0, 0, 0)
		b = append(b, actions...)
	}
	if goTo >= 0 {
		b = binary.BigEndian.AppendUint16(b, ofpitGotoTable)
		b = binary.BigEndian.AppendUint16(b, 8)
		b = append(b, uint8(goTo), 0, 0, 0)
	}
	return b, true
}

func putOutput(b []byte, port uint32) []byte {
	b = binary.BigEndian.AppendUint16(b, ofpatOutput)
	b = binary.BigEndian.AppendUint16(b, 16)
	b = binary.BigEndian.AppendUint32(b, port)
	b = binary.BigEndian.AppendUint16(b, 0) // max_len: only for output to the controller
	return append(b, 0, 0, 0, 0, 0, 0)
}

// setFields are the fields set_field may write here, by ovs-ofctl's names (registers besides).
var setFields = map[string]oxmField{
	"eth_src": oxmEthSrc, "eth_dst": oxmEthDst, "arp_op": oxmARPOp, "arp_spa": oxmARPSPA, "arp_tpa": oxmARPTPA,
	"arp_sha": oxmARPSHA, "arp_tha": oxmARPTHA,
}

// putSetField appends "V[/M]->FIELD" as an OpenFlow 1.5 set-field action (a masked one for V/M).
func putSetField(b []byte, arg string) ([]byte, bool) {
	val, name, ok := strings.Cut(arg, "->")
	if !ok {
		return nil, false
	}
	f, ok := setFields[name]
	if !ok {
		n, isReg := regNumber(name)
		if !isReg {
			return nil, false
		}
		f = oxmReg(n)
	}
	value, mask, ok := parseFieldValue(f, val, f.class == oxmClassNXM1)
	if !ok {
		return nil, false
	}
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, ofpatSetField)
	b = binary.BigEndian.AppendUint16(b, 0) // length, below
	b = putOXM(b, f, value, mask)
	b = pad8(b, start)
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, true
}

// moveFields are the NXM names move: knows, for whole-field moves.
var moveFields = map[string]oxmField{
	"NXM_OF_ETH_SRC": oxmEthSrc, "NXM_OF_ETH_DST": oxmEthDst, "NXM_OF_ARP_SPA": oxmARPSPA, "NXM_OF_ARP_TPA": oxmARPTPA,
	"NXM_NX_ARP_SHA": oxmARPSHA, "NXM_NX_ARP_THA": oxmARPTHA,
}

// putMove appends "A[]->B[]" (two whole fields of one width) as an OpenFlow 1.5 copy-field action.
func putMove(b []byte, arg string) ([]byte, bool) {
	from, to, ok := strings.Cut(arg, "->")
	if !ok || !strings.HasSuffix(from, "[]") || !strings.HasSuffix(to, "[]") {
		return nil, false
	}
	src, ok1 := moveFields[strings.TrimSuffix(from, "[]")]
	dst, ok2 := moveFields[strings.TrimSuffix(to, "[]")]
	if !ok1 || !ok2 || src.width != dst.width {
		return nil, false
	}
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, ofpatCopyField)
	b = binary.BigEndian.AppendUint16(b, 0) // length, below
	b = binary.BigEndian.AppendUint16(b, uint16(src.width*8))
	b = binary.BigEndian.AppendUint16(b, 0) // src_offset
	b = binary.BigEndian.AppendUint16(b, 0) // dst_offset
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint32(b, src.header(false))
	b = binary.BigEndian.AppendUint32(b, dst.header(false))
	b = pad8(b, start)
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b, true
}

// parseFieldValue reads a value of f: a MAC address, an IPv4 address (with /prefix or /mask if maskable), or a
// number (decimal or 0x hex, with /mask if maskable). A mask of all ones is no mask, as ovs-ofctl has it.
func parseFieldValue(f oxmField, text string, maskable bool) (value, mask []byte, ok bool) {
	val, m, hasMask := strings.Cut(text, "/")
	if hasMask && !maskable {
		return nil, nil, false
	}
	switch {
	case f.width == 6:
		if hasMask {
			return nil, nil, false
		}
		value, ok = parseMAC(val)
		return value, nil, ok
	case f.width == 4 && (f == oxmIPv4Src || f == oxmIPv4Dst || f == oxmARPSPA || f == oxmARPTPA):
		a, err := netip.ParseAddr(val)
		if err != nil || !a.Is4() {
			return nil, nil, false
		}
		v := a.As4()
		value = v[:]
		if hasMask {
			if bits, err := strconv.Atoi(m); err == nil && bits >= 0 && bits <= 32 {
				mask = binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-bits))
				if bits == 0 {
					mask = []byte{0, 0, 0, 0}
				}
			} else if ma, err := netip.ParseAddr(m); err == nil && ma.Is4() {
				mv := ma.As4()
				mask = mv[:]
			} else {
				return nil, nil, false
			}
		}
	default:
		n, err := strconv.ParseUint(val, 0, f.width*8)
		if err != nil {
			return nil, nil, false
		}
		value = binary.BigEndian.AppendUint64(nil, n)[8-f.width:]
		if hasMask {
			mn, err := strconv.ParseUint(m, 0, f.width*8)
			if err != nil {
				return nil, nil, false
			}
			mask = binary.BigEndian.AppendUint64(nil, mn)[8-f.width:]
		}
	}
	if mask != nil {
		all := true
		for i := range mask {
			if mask[i] != 0xff {
				all = false
			}
			value[i] &= mask[i] // OVS stores the value under its mask
		}
		if all {
			mask = nil
		}
	}
	return value, mask, true
}

func parseMAC(s string) ([]byte, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return nil, false
	}
	out := make([]byte, 6)
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) != 2 {
			return nil, false
		}
		out[i] = byte(n)
	}
	return out, true
}

// regNumber reads "reg0".."reg15".
func regNumber(name string) (int, bool) {
	if !strings.HasPrefix(name, "reg") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(name, "reg"))
	if err != nil || n < 0 || n > 15 || strconv.Itoa(n) != strings.TrimPrefix(name, "reg") {
		return 0, false
	}
	return n, true
}

// splitTop splits on commas outside parentheses and brackets. Anything with parentheses is beyond the encoder
// anyway, but a split must not cut "ct(commit,zone=1)" into pieces that happen to look encodable.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// errNotEncodable is returned when a bundle holds a mod the native encoder does not know.
var errNotEncodable = fmt.Errorf("not encodable natively")
