package kubelet

import (
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// KubeletVersion is what lab nodes report in nodeInfo.
const KubeletVersion = "v1.37.2-lab"

// maxPods is every lab node's pod capacity.
const maxPods = 110

// nodeLabels are the labels a kubelet puts on its Node.
func nodeLabels(name string) map[string]string {
	return map[string]string{
		v1.LabelHostname:   name,
		v1.LabelOSStable:   "linux",
		v1.LabelArchStable: runtime.GOARCH,
	}
}

// networkNotReadyMessage is the Ready condition's message while the CNI has no configuration, worded as real
// kubelets word it.
func networkNotReadyMessage(why error) string {
	return "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady " +
		"message:Network plugin returns error: " + why.Error()
}

// buildNodeStatus is the node's status: addresses, capacity, nodeInfo and conditions (Ready follows netErr,
// the pressure conditions are False). Transition times of unchanged conditions are kept from prev;
// heartbeats are now.
func buildNodeStatus(name, nodeIP string, facts hostFacts, netErr error, prev v1.NodeStatus, now time.Time) v1.NodeStatus {
	st := *prev.DeepCopy()
	st.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: nodeIP}, {Type: v1.NodeHostName, Address: name}}
	capacity := v1.ResourceList{
		v1.ResourceCPU:    *resource.NewQuantity(int64(facts.CPUs), resource.DecimalSI),
		v1.ResourceMemory: *resource.NewQuantity(facts.MemoryBytes, resource.BinarySI),
		v1.ResourcePods:   *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	st.Capacity, st.Allocatable = capacity, capacity.DeepCopy()
	machineID := sha256.Sum256([]byte(name))
	st.NodeInfo = v1.NodeSystemInfo{
		MachineID:               hex.EncodeToString(machineID[:16]),
		SystemUUID:              hex.EncodeToString(machineID[16:]),
		BootID:                  facts.BootID,
		KernelVersion:           facts.Kernel,
		OSImage:                 "Switchyard lab",
		ContainerRuntimeVersion: "lab://" + KubeletVersion,
		KubeletVersion:          KubeletVersion,
		OperatingSystem:         "linux",
		Architecture:            runtime.GOARCH,
	}
	ready := nodeCond{v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"}
	if netErr != nil {
		ready = nodeCond{v1.NodeReady, v1.ConditionFalse, "KubeletNotReady", networkNotReadyMessage(netErr)}
	}
	want := []nodeCond{
		{v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
		{v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		{v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
		ready,
	}
	var conds []v1.NodeCondition
	owned := map[v1.NodeConditionType]bool{}
	for _, w := range want {
		owned[w.typ] = true
		c := v1.NodeCondition{Type: w.typ, Status: w.status, Reason: w.reason, Message: w.message,
			LastHeartbeatTime: statusTime(now), LastTransitionTime: statusTime(now)}
		for _, p := range prev.Conditions {
			if p.Type == w.typ && p.Status == w.status && !p.LastTransitionTime.IsZero() {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
		conds = append(conds, c)
	}
	for _, p := range prev.Conditions {
		if !owned[p.Type] {
			conds = append(conds, p) // e.g. NetworkUnavailable, set by others
		}
	}
	st.Conditions = conds
	return st
}

type nodeCond struct {
	typ             v1.NodeConditionType
	status          v1.ConditionStatus
	reason, message string
}

// readyOf returns the node's Ready condition status, or "" when it has none.
func readyOf(st v1.NodeStatus) v1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status
		}
	}
	return ""
}
