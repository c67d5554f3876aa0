package api

// PathFlows lists br-int's flows with the object that owns each (yardctl flows).
const PathFlows = "/v1/flows"

// FlowEntry is one installed flow as yardctl shows it.
type FlowEntry struct {
	Table     uint8  `json:"table"`
	TableName string `json:"tableName"`
	Priority  uint16 `json:"priority"`
	Cookie    uint64 `json:"cookie"`
	Match     string `json:"match"`
	Actions   string `json:"actions"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	// OwnerKind and Owner name the object the flow belongs to (from its cookie): e.g. "Pod" and
	// "default/web-1/eth0@3f2a9c1b2d4e", "Node" and "node2", "Pipeline" and "node". Empty for a flow the agent does
	// not own (another cookie round, or not Switchyard's).
	OwnerKind string `json:"ownerKind,omitempty"`
	Owner     string `json:"owner,omitempty"`
}

// FlowList is the answer of PathFlows.
type FlowList struct {
	Node   string      `json:"node"`
	Bridge string      `json:"bridge"`
	Round  uint16      `json:"round"`
	Flows  []FlowEntry `json:"flows"`
}
