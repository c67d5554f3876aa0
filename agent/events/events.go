// Package events reports the Kubernetes objects the agent cannot fully realize (docs/reliability.md, "Malformed
// objects") as Warning Events on the object, deduplicated: an object gets one Event per distinct problem, not one
// per resync, and a fixed object gets a new Event if it breaks again.
package events

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Reasons of the agent's Events.
const (
	// InvalidPolicy: parts of a NetworkPolicy cannot be programmed (they allow nothing; the rest of the policy works).
	InvalidPolicy = "InvalidPolicy"
	// UnresolvedNamedPort: a NetworkPolicy port name matches no container port of the pods it applies to.
	UnresolvedNamedPort = "UnresolvedNamedPort"
	// InvalidService: parts of a Service cannot be programmed (they are ignored, or the Service has no flows).
	InvalidService = "InvalidService"
)

// Component is the source component of the agent's Events.
const Component = "switchyard-agent"

// Recorder emits the Events. A nil *Recorder does nothing (standalone agents have no API server).
type Recorder struct {
	rec  record.EventRecorder
	stop func()

	mu   sync.Mutex
	last map[problem]string // the message last reported per object and reason
}

type problem struct{ kind, namespace, name, reason string }

// New starts recording Events to the API server as component switchyard-agent on node.
func New(cs kubernetes.Interface, node string) *Recorder {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	return newRecorder(b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component, Host: node}), b.Shutdown)
}

func newRecorder(rec record.EventRecorder, stop func()) *Recorder {
	return &Recorder{rec: rec, stop: stop, last: map[problem]string{}}
}

// Stop flushes and stops the recorder.
func (r *Recorder) Stop() {
	if r != nil {
		r.stop()
	}
}

// Report sets the problem of obj (kind, namespace/name) under reason to message: a Warning Event when it differs
// from what was last reported, nothing when it is the same. An empty message clears the problem.
func (r *Recorder) Report(obj runtime.Object, kind, namespace, name, reason, message string) {
	if r == nil {
		return
	}
	k := problem{kind, namespace, name, reason}
	r.mu.Lock()
	prev, had := r.last[k]
	switch {
	case message == "":
		delete(r.last, k)
	case had && prev == message:
	default:
		r.last[k] = message
	}
	r.mu.Unlock()
	if message != "" && (!had || prev != message) && obj != nil {
		r.rec.Event(obj, corev1.EventTypeWarning, reason, message)
	}
}

// Forget clears every problem of an object that was deleted.
func (r *Recorder) Forget(kind, namespace, name string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.last {
		if k.kind == kind && k.namespace == namespace && k.name == name {
			delete(r.last, k)
		}
	}
}
