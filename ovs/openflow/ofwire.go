package openflow

import (
	"encoding/binary"
	"fmt"
)

// OpenFlow 1.5 wire format: just what a bundle of flow adds and strict deletes needs (see nativeconn.go). Layouts
// are those of the OpenFlow 1.5.1 specification; OVS accepts them as ovs-ofctl -O OpenFlow15 sends them.

const ofVersion15 = 0x06

// Message types.
const (
	ofptHello         = 0
	ofptError         = 1
	ofptEchoRequest   = 2
	ofptEchoReply     = 3
	ofptSetConfig     = 9
	ofptPortStatus    = 12
	ofptFlowMod       = 14
	ofptBarrierReq    = 20
	ofptBarrierReply  = 21
	ofptBundleControl = 33
	ofptBundleAdd     = 34
	ofptSetAsync      = 28
)

// portReasonAdd is OFPPR_ADD, the reason of a port-status message for a new port.
const portReasonAdd = 0

// Bundle control types and flags.
const (
	bundleOpenRequest    = 0
	bundleOpenReply      = 1
	bundleCommitRequest  = 4
	bundleCommitReply    = 5
	bundleDiscardRequest = 6
	bundleFlagsAtomic    = 1
	bundleFlagsOrdered   = 2
)

// Flow mod commands.
const (
	flowModAdd          = 0
	flowModDeleteStrict = 4
)

// Special ports, groups and buffers.
const (
	ofppInPort   = 0xfffffff8
	ofppAny      = 0xffffffff
	ofpgAny      = 0xffffffff
	ofpNoBuffer  = 0xffffffff
	ofHeaderSize = 8
)

// Instruction and action types.
const (
	ofpitGotoTable    = 1
	ofpitApplyActions = 4
	ofpatOutput       = 0
	ofpatDecNwTTL     = 24
	ofpatSetField     = 25
	ofpatCopyField    = 28
)

// oxmField is one match field as OXM knows it: class, field number and value width in bytes.
type oxmField struct {
	class uint16
	field uint8
	width int
}

// header is the field's OXM header, with or without a mask.
func (f oxmField) header(masked bool) uint32 {
	n := f.width
	h := uint32(f.class)<<16 | uint32(f.field)<<9
	if masked {
		h |= 1 << 8
		n *= 2
	}
	return h | uint32(n)
}

const (
	oxmClassNXM1  = 0x0001 // Nicira's registers
	oxmClassBasic = 0x8000
)

var (
	oxmInPort  = oxmField{oxmClassBasic, 0, 4}
	oxmEthDst  = oxmField{oxmClassBasic, 3, 6}
	oxmEthSrc  = oxmField{oxmClassBasic, 4, 6}
	oxmEthType = oxmField{oxmClassBasic, 5, 2}
	oxmIPv4Src = oxmField{oxmClassBasic, 11, 4}
	oxmIPv4Dst = oxmField{oxmClassBasic, 12, 4}
	oxmARPOp   = oxmField{oxmClassBasic, 21, 2}
	oxmARPSPA  = oxmField{oxmClassBasic, 22, 4}
	oxmARPTPA  = oxmField{oxmClassBasic, 23, 4}
	oxmARPSHA  = oxmField{oxmClassBasic, 24, 6}
	oxmARPTHA  = oxmField{oxmClassBasic, 25, 6}
)

func oxmReg(n int) oxmField { return oxmField{oxmClassNXM1, uint8(n), 4} }

// putOXM appends one OXM TLV: header, value and, if mask is not nil, the mask. value and mask must be
// f.width bytes long.
func putOXM(b []byte, f oxmField, value, mask []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, f.header(mask != nil))
	b = append(b, value...)
	return append(b, mask...)
}

// pad8 appends zero bytes up to a multiple of 8 counted from start.
func pad8(b []byte, start int) []byte {
	for (len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// ofMessage is one message with its header.
func ofMessage(typ uint8, xid uint32, body []byte) []byte {
	b := make([]byte, 0, ofHeaderSize+len(body))
	b = append(b, ofVersion15, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(ofHeaderSize+len(body)))
	b = binary.BigEndian.AppendUint32(b, xid)
	return append(b, body...)
}

// helloMessage offers OpenFlow 1.5 only (a version bitmap element).
func helloMessage(xid uint32) []byte {
	body := binary.BigEndian.AppendUint16(nil, 1) // OFPHET_VERSIONBITMAP
	body = binary.BigEndian.AppendUint16(body, 8)
	body = binary.BigEndian.AppendUint32(body, 1<<ofVersion15)
	return ofMessage(ofptHello, xid, body)
}

// setConfigMessage gives the connection a miss_send_len, without which OVS sends a service connection (the
// management socket's) no asynchronous message at all; setAsyncMessage then picks which it gets.
func setConfigMessage(xid uint32) []byte {
	body := binary.BigEndian.AppendUint16(nil, 0) // flags: normal fragment handling, OVS's default
	body = binary.BigEndian.AppendUint16(body, 0xffff)
	return ofMessage(ofptSetConfig, xid, body)
}

// setAsyncMessage asks for port-status messages of added ports only: no packet-ins, no flow-removed, no other
// port changes, no role, table or request-forward messages (OpenFlow 1.4+ async-config properties, for both
// roles).
func setAsyncMessage(xid uint32) []byte {
	var body []byte
	for typ := uint16(0); typ <= 11; typ++ { // OFPACPT_PACKET_IN_SLAVE .. OFPACPT_REQUESTFORWARD_MASTER
		var mask uint32
		if typ == 2 || typ == 3 { // OFPACPT_PORT_STATUS_SLAVE, _MASTER
			mask = 1 << portReasonAdd
		}
		body = binary.BigEndian.AppendUint16(body, typ)
		body = binary.BigEndian.AppendUint16(body, 8)
		body = binary.BigEndian.AppendUint32(body, mask)
	}
	return ofMessage(ofptSetAsync, xid, body)
}

func bundleControlMessage(xid, bundleID uint32, typ uint16) []byte {
	body := binary.BigEndian.AppendUint32(nil, bundleID)
	body = binary.BigEndian.AppendUint16(body, typ)
	body = binary.BigEndian.AppendUint16(body, bundleFlagsAtomic|bundleFlagsOrdered)
	return ofMessage(ofptBundleControl, xid, body)
}

// bundleAddMessage wraps inner (a whole message, whose xid must be xid) into the bundle.
func bundleAddMessage(xid, bundleID uint32, inner []byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, bundleID)
	body = binary.BigEndian.AppendUint16(body, 0) // pad
	body = binary.BigEndian.AppendUint16(body, bundleFlagsAtomic|bundleFlagsOrdered)
	return ofMessage(ofptBundleAdd, xid, append(body, inner...))
}

// flowModMessage encodes a flow mod: match is the OXM TLVs (unpadded), instructions the encoded instructions.
func flowModMessage(xid uint32, cmd uint8, f Flow, match, instructions []byte) []byte {
	body := binary.BigEndian.AppendUint64(nil, f.Cookie)
	body = binary.BigEndian.AppendUint64(body, 0) // cookie_mask: adds set the cookie, strict deletes match any
	body = append(body, f.Table, cmd)
	body = binary.BigEndian.AppendUint16(body, 0) // idle_timeout
	body = binary.BigEndian.AppendUint16(body, 0) // hard_timeout
	body = binary.BigEndian.AppendUint16(body, f.Priority)
	body = binary.BigEndian.AppendUint32(body, ofpNoBuffer)
	body = binary.BigEndian.AppendUint32(body, ofppAny)
	body = binary.BigEndian.AppendUint32(body, ofpgAny)
	body = binary.BigEndian.AppendUint16(body, 0) // flags
	body = binary.BigEndian.AppendUint16(body, 0) // importance
	start := len(body)
	body = binary.BigEndian.AppendUint16(body, 1) // OFPMT_OXM
	body = binary.BigEndian.AppendUint16(body, uint16(4+len(match)))
	body = append(body, match...)
	body = pad8(body, start)
	return ofMessage(ofptFlowMod, xid, append(body, instructions...))
}

// ofError is an OFPT_ERROR the switch sent.
type ofError struct {
	xid       uint32
	typ, code uint16
}

func (e ofError) String() string {
	name := ofErrorNames[[2]uint16{e.typ, e.code}]
	if name == "" {
		name = fmt.Sprintf("type %d code %d", e.typ, e.code)
	}
	return "OpenFlow error " + name
}

// ofErrorNames are the errors a bundle of flow mods can meet (OpenFlow 1.5 numbering).
var ofErrorNames = map[[2]uint16]string{
	{1, 1}: "OFPBRC_BAD_TYPE", {1, 5}: "OFPBRC_EPERM", {1, 6}: "OFPBRC_BAD_LEN",
	{2, 0}: "OFPBAC_BAD_TYPE", {2, 2}: "OFPBAC_BAD_EXPERIMENTER", {2, 4}: "OFPBAC_BAD_OUT_PORT",
	{2, 5}: "OFPBAC_BAD_ARGUMENT", {2, 10}: "OFPBAC_MATCH_INCONSISTENT", {2, 13}: "OFPBAC_BAD_SET_TYPE", {2, 14}: "OFPBAC_BAD_SET_LEN",
	{2, 15}: "OFPBAC_BAD_SET_ARGUMENT", {3, 2}: "OFPBIC_BAD_TABLE_ID",
	{4, 0}: "OFPBMC_BAD_TYPE", {4, 1}: "OFPBMC_BAD_LEN", {4, 5}: "OFPBMC_BAD_FIELD",
	{4, 6}: "OFPBMC_BAD_VALUE", {4, 9}: "OFPBMC_BAD_PREREQ", {4, 10}: "OFPBMC_DUP_FIELD",
	{5, 0}: "OFPFMFC_UNKNOWN", {5, 1}: "OFPFMFC_TABLE_FULL", {5, 2}: "OFPFMFC_BAD_TABLE_ID",
	{5, 3}: "OFPFMFC_OVERLAP", {5, 6}: "OFPFMFC_BAD_COMMAND",
	{17, 13}: "OFPBFC_MSG_FAILED", {17, 14}: "OFPBFC_TIMEOUT", {17, 15}: "OFPBFC_BUNDLE_IN_PROGRESS",
}
