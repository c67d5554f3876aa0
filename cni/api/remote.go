package api

// The agent's remote API (docs/debugging.md): the read-only endpoints over HTTPS on the node's InternalIP, for
// yardctl --kubeconfig from outside the node.

// Every agent publishes its remote API in a Lease named after its node in RemoteAPINamespace (which holds nothing
// else): the port, and the SHA-256 of its certificate (self-signed, made at every start), which yardctl pins.
const (
	RemoteAPINamespace     = "switchyard-agents"
	AnnotationRemotePort   = "switchyard.io/agent-api-port"
	AnnotationRemoteSHA256 = "switchyard.io/agent-api-sha256"
)

// ErrRemoteRefused is the error code of a remote request the agent refused: no or an unknown token (HTTP 401) or
// no RBAC access (HTTP 403).
const ErrRemoteRefused uint = 120
