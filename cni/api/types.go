// Package api is the contract between the switchyard-cni plugin and the switchyard-agent: JSON
// over HTTP on the agent's root-only unix socket. The plugin is a thin client; the agent owns
// IPAM, the pod's veth, its OVS port and its flows. The vocabulary lives in package wire (the plugin imports only
// that); this package re-exports it and holds the net/http client and the views yardctl reads.
package api

import "github.com/switchyard-net/switchyard/cni/api/wire"

// Paths served by the agent's local API.
const (
	PathCNIAdd   = wire.PathCNIAdd
	PathCNIDel   = wire.PathCNIDel
	PathCNICheck = wire.PathCNICheck
	PathCNIGC    = wire.PathCNIGC
	PathStatus   = wire.PathStatus
	PathPods     = wire.PathPods
)

// DefaultSocket is where the agent listens unless configured otherwise.
const DefaultSocket = wire.DefaultSocket

// The bodies of the local API (see package wire).
type (
	CNIRequest    = wire.CNIRequest
	Attachment    = wire.Attachment
	GCRequest     = wire.GCRequest
	AttachmentKey = wire.AttachmentKey
	GCResponse    = wire.GCResponse
	Status        = wire.Status
	StatusDetail  = wire.StatusDetail
	Error         = wire.Error
	Timeouts      = wire.Timeouts
)

// DefaultTimeouts returns the timeouts used for zero fields of Timeouts.
func DefaultTimeouts() Timeouts { return wire.DefaultTimeouts() }
