package kubelet

import (
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podRecord is what the kubelet remembers about a pod it runs, persisted in the pod's directory so a restarted
// kubelet finds its pods, namespaces and processes again.
type podRecord struct {
	UID         types.UID `json:"uid"`
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	SandboxID   string    `json:"sandboxID"`       // the CNI container id
	Netns       string    `json:"netns,omitempty"` // the pod namespace's name; empty for hostNetwork pods
	HostNetwork bool      `json:"hostNetwork,omitempty"`
	// NetworkReady: CNI ADD succeeded and no DEL followed. NetworkReleased: the pod finished and its network
	// was torn down (it is not set up again).
	NetworkReady    bool              `json:"networkReady,omitempty"`
	NetworkReleased bool              `json:"networkReleased,omitempty"`
	IPs             []string          `json:"ips,omitempty"`
	StartTime       time.Time         `json:"startTime"`
	GracePeriod     int64             `json:"gracePeriodSeconds"`
	Containers      []containerRecord `json:"containers"`
}

// containerRecord is the part of a container's history that its files do not hold.
type containerRecord struct {
	Name            string      `json:"name"`
	RestartCount    int32       `json:"restartCount"`
	LastTermination *terminated `json:"lastTermination,omitempty"` // the previous run, for lastState
}

// terminated is how a run of a container ended.
type terminated struct {
	ExitCode   int32     `json:"exitCode"`
	Reason     string    `json:"reason"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// newRecord starts the record of a pod about to be run.
func newRecord(pod *v1.Pod, netnsPrefix string, now time.Time) *podRecord {
	r := &podRecord{
		UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name,
		SandboxID:   newSandboxID(),
		HostNetwork: pod.Spec.HostNetwork,
		StartTime:   now.UTC().Truncate(time.Second),
		GracePeriod: 30,
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		r.GracePeriod = *pod.Spec.TerminationGracePeriodSeconds
	}
	if !r.HostNetwork {
		r.Netns = netnsName(netnsPrefix, r.SandboxID)
	}
	for _, c := range pod.Spec.Containers {
		r.Containers = append(r.Containers, containerRecord{Name: c.Name})
	}
	return r
}

// container returns the record of the named container, adding one if the pod gained it.
func (r *podRecord) container(name string) *containerRecord {
	for i := range r.Containers {
		if r.Containers[i].Name == name {
			return &r.Containers[i]
		}
	}
	r.Containers = append(r.Containers, containerRecord{Name: name})
	return &r.Containers[len(r.Containers)-1]
}

// key is the pod's namespace/name, the work queue's key.
func (r *podRecord) key() string { return r.Namespace + "/" + r.Name }

// clone returns a deep copy.
func (r *podRecord) clone() *podRecord {
	c := *r
	c.IPs = slices.Clone(r.IPs)
	c.Containers = slices.Clone(r.Containers)
	for i := range c.Containers {
		if t := c.Containers[i].LastTermination; t != nil {
			tc := *t
			c.Containers[i].LastTermination = &tc
		}
	}
	return &c
}
