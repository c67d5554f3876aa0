package kubelet

import (
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerView is what the kubelet knows about one container when it builds the pod's status.
type containerView struct {
	spec *v1.Container
	rec  containerRecord
	proc procState
	// final: the container ended and will not be restarted. backoff: it ended and will be restarted later.
	final, backoff bool
	// waitingReason and waitingMessage explain a container that has not started (ContainerCreating when empty).
	waitingReason, waitingMessage string
}

// podView is everything buildStatus needs.
type podView struct {
	pod        *v1.Pod
	rec        *podRecord // nil before the kubelet took the pod on
	containers []containerView
	sandboxErr string // the last CNI ADD failure, while the sandbox is not ready
	nodeIP     string
}

// statusTime is how the API stores times: whole seconds.
func statusTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// containerID is the id reported for a container of the sandbox.
func containerID(sandboxID, name string) string {
	return "lab://" + sandboxID[:min(12, len(sandboxID))] + "-" + name
}

// buildStatus is the pod's status as this kubelet sees it: phase, IPs, conditions and container statuses.
// Fields it does not own (QOS class, other controllers' conditions) are kept from the pod's current status, as
// are the transition times of conditions that did not change.
func buildStatus(v podView, now time.Time) v1.PodStatus {
	st := *v.pod.Status.DeepCopy()
	st.ObservedGeneration = v.pod.Generation
	st.Phase = podPhase(v)
	st.HostIP = v.nodeIP
	st.HostIPs = []v1.HostIP{{IP: v.nodeIP}}
	st.PodIP, st.PodIPs = "", nil
	if v.rec != nil {
		ips := v.rec.IPs
		if v.rec.HostNetwork {
			ips = []string{v.nodeIP}
		}
		for _, ip := range ips {
			st.PodIPs = append(st.PodIPs, v1.PodIP{IP: ip})
		}
		if len(ips) > 0 {
			st.PodIP = ips[0]
		}
		t := statusTime(v.rec.StartTime)
		st.StartTime = &t
	}
	st.ContainerStatuses = nil
	for _, c := range v.containers {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(v, c))
	}
	st.Conditions = podConditions(v, st.Phase, v.pod.Status.Conditions, now)
	return st
}

// podPhase: Succeeded or Failed once every container ended for good; Running once every container started;
// Pending before.
func podPhase(v podView) v1.PodPhase {
	if len(v.containers) == 0 {
		return v1.PodPending
	}
	allFinal, allStarted, failed := true, true, false
	for _, c := range v.containers {
		allFinal = allFinal && c.final
		allStarted = allStarted && c.proc.Started
		failed = failed || (c.final && c.proc.ExitCode != 0)
	}
	switch {
	case allFinal && failed:
		return v1.PodFailed
	case allFinal:
		return v1.PodSucceeded
	case allStarted:
		return v1.PodRunning
	}
	return v1.PodPending
}

func containerStatus(v podView, c containerView) v1.ContainerStatus {
	cs := v1.ContainerStatus{
		Name:         c.spec.Name,
		Image:        c.spec.Image,
		ImageID:      "lab://" + c.spec.Image,
		RestartCount: c.rec.RestartCount,
		Ready:        c.proc.Ready,
	}
	started := c.proc.Running
	cs.Started = &started
	if c.proc.Started && v.rec != nil {
		cs.ContainerID = containerID(v.rec.SandboxID, c.spec.Name)
	}
	if t := c.rec.LastTermination; t != nil {
		cs.LastTerminationState.Terminated = terminatedState(*t, cs.ContainerID)
	}
	switch {
	case !c.proc.Started:
		reason := c.waitingReason
		if reason == "" {
			reason = "ContainerCreating"
		}
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: reason, Message: c.waitingMessage}
	case c.proc.Running:
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: statusTime(c.proc.StartedAt)}
	case c.backoff:
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: c.waitingMessage}
		cs.LastTerminationState.Terminated = terminatedState(runOf(c.proc), cs.ContainerID)
	default:
		cs.State.Terminated = terminatedState(runOf(c.proc), cs.ContainerID)
	}
	return cs
}

// runOf describes the ended run the process state shows.
func runOf(p procState) terminated {
	reason := "Completed"
	if p.ExitCode != 0 {
		reason = "Error"
	}
	return terminated{ExitCode: p.ExitCode, Reason: reason, StartedAt: p.StartedAt, FinishedAt: p.FinishedAt}
}

func terminatedState(t terminated, id string) *v1.ContainerStateTerminated {
	return &v1.ContainerStateTerminated{ExitCode: t.ExitCode, Reason: t.Reason, Message: t.Message,
		StartedAt: statusTime(t.StartedAt), FinishedAt: statusTime(t.FinishedAt), ContainerID: id}
}

// podConditions sets PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady and Ready, keeping
// other conditions and unchanged transition times from prev.
func podConditions(v podView, phase v1.PodPhase, prev []v1.PodCondition, now time.Time) []v1.PodCondition {
	sandboxReady := v.rec != nil && (v.rec.HostNetwork || v.rec.NetworkReady || v.rec.NetworkReleased)
	var unready []string
	for _, c := range v.containers {
		if !c.proc.Ready {
			unready = append(unready, c.spec.Name)
		}
	}
	ready := cond(v1.ContainersReady, len(unready) == 0 && len(v.containers) > 0, "", "")
	if !ready.isTrue {
		ready.reason = "ContainersNotReady"
		ready.message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	if phase == v1.PodSucceeded || phase == v1.PodFailed {
		ready = cond(v1.ContainersReady, false, "PodCompleted", "")
	}
	sandbox := cond(v1.PodReadyToStartContainers, sandboxReady, "", "")
	if !sandboxReady && v.sandboxErr != "" {
		sandbox.reason, sandbox.message = "FailedCreatePodSandBox", v.sandboxErr
	}
	podReady := ready
	podReady.typ = v1.PodReady
	want := []condSpec{
		cond(v1.PodScheduled, true, "", ""),
		sandbox,
		cond(v1.PodInitialized, true, "", ""),
		ready,
		podReady,
	}
	var out []v1.PodCondition
	owned := map[v1.PodConditionType]bool{}
	for _, w := range want {
		owned[w.typ] = true
		out = append(out, w.build(v.pod.Generation, prev, now))
	}
	for _, p := range prev {
		if !owned[p.Type] {
			out = append(out, p)
		}
	}
	return out
}

// condSpec is a wanted condition before times are filled in.
type condSpec struct {
	typ             v1.PodConditionType
	isTrue          bool
	reason, message string
}

func cond(t v1.PodConditionType, isTrue bool, reason, message string) condSpec {
	return condSpec{typ: t, isTrue: isTrue, reason: reason, message: message}
}

// build makes the condition, keeping the previous transition time when the status did not change.
func (c condSpec) build(generation int64, prev []v1.PodCondition, now time.Time) v1.PodCondition {
	status := v1.ConditionFalse
	if c.isTrue {
		status = v1.ConditionTrue
	}
	pc := v1.PodCondition{Type: c.typ, Status: status, Reason: c.reason, Message: c.message,
		ObservedGeneration: generation, LastTransitionTime: statusTime(now)}
	for _, p := range prev {
		if p.Type == c.typ && p.Status == status && !p.LastTransitionTime.IsZero() {
			pc.LastTransitionTime = p.LastTransitionTime
			pc.LastProbeTime = p.LastProbeTime
		}
	}
	return pc
}
