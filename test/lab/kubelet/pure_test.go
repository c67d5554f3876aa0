package kubelet

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNetnsName(t *testing.T) {
	id := newSandboxID()
	if len(id) != 32 || id == newSandboxID() {
		t.Fatalf("sandbox ids: %q not 32 random hex digits", id)
	}
	for _, prefix := range []string{"p-", "lab-node-1-", strings.Repeat("a", maxPrefix)} {
		n := netnsName(prefix, id)
		if !strings.HasPrefix(n, prefix) || len(n) > maxNetnsName || len(n) < len(prefix)+8 {
			t.Errorf("netnsName(%q) = %q", prefix, n)
		}
	}
	if netnsName("p-", id) == netnsName("p-", newSandboxID()) {
		t.Errorf("two sandboxes got one namespace name")
	}
}

func validConfig() Config {
	return Config{NodeName: "n1", NodeIP: "10.0.0.1", CNIConfDir: "/a", CNIBinDir: "/b", CNICacheDir: "/c",
		StateDir: "/d", NetnsPrefix: "lab-n1-", ServeCommand: []string{"/bin/lab", "serve"}}
}

func TestConfigValidate(t *testing.T) {
	c := validConfig()
	if err := c.validate(false); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if c.Log == nil {
		t.Errorf("default logger not set")
	}
	for field, mutate := range map[string]func(*Config){
		"nodeName":     func(c *Config) { c.NodeName = "" },
		"nodeIP":       func(c *Config) { c.NodeIP = "x" },
		"stateDir":     func(c *Config) { c.StateDir = "rel" },
		"netnsPrefix":  func(c *Config) { c.NetnsPrefix = "Has_Caps" },
		"serveCommand": func(c *Config) { c.ServeCommand = nil },
		"client":       func(c *Config) {},
	} {
		c := validConfig()
		mutate(&c)
		if err := c.validate(field == "client"); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v, want an error naming it", field, err)
		}
	}
	c = validConfig()
	c.NetnsPrefix = strings.Repeat("a", maxPrefix+1)
	if err := c.validate(false); err == nil {
		t.Errorf("a prefix leaving no room for the id was accepted")
	}
}

func testPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns1", UID: "uid-1", Generation: 2},
		Spec: v1.PodSpec{NodeName: "n1", Containers: []v1.Container{{
			Name: "c", Image: "agnhost",
			Ports: []v1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: v1.ProtocolUDP},
				{ContainerPort: 53, Protocol: v1.ProtocolTCP}, {ContainerPort: 9, Protocol: v1.ProtocolSCTP}, {ContainerPort: 80}},
		}}},
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := openState(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecord(testPod(), "lab-", time.Now())
	r.NetworkReady, r.IPs = true, []string{"10.1.0.5"}
	r.Containers[0].RestartCount = 3
	r.Containers[0].LastTermination = &terminated{ExitCode: 2, Reason: "Error", FinishedAt: time.Unix(100, 0).UTC()}
	if err := s.save(r); err != nil {
		t.Fatal(err)
	}
	s2, err := openState(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := s2.get("uid-1")
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
	got.IPs[0] = "changed"
	if s2.get("uid-1").IPs[0] != "10.1.0.5" {
		t.Errorf("get returned the store's own record, not a copy")
	}
	if n := len(s2.byKey("ns1", "web-0")); n != 1 {
		t.Errorf("byKey found %d records", n)
	}
	if err := s2.remove("uid-1"); err != nil {
		t.Fatal(err)
	}
	s3, _ := openState(dir)
	if len(s3.all()) != 0 {
		t.Errorf("removed record came back")
	}
}

func TestBuiltinArgv(t *testing.T) {
	pod := testPod()
	argv := containerArgv(pod, &pod.Spec.Containers[0], []string{"/bin/lab", "serve"}, "/s/c.ready", nil)
	want := []string{"/bin/lab", "serve", "--name=web-0", "--tcp=80,53", "--udp=53", "--sctp=9", "--ready-file=/s/c.ready"}
	if !reflect.DeepEqual(argv, want) {
		t.Fatalf("got %v\nwant %v", argv, want)
	}
}

func TestCommandArgvAndEnv(t *testing.T) {
	pod := testPod()
	c := &v1.Container{Name: "c", Command: []string{"sh", "-c"}, Args: []string{"echo $(MY_IP) $(NODE) $(UNDEF) $$(date)"},
		Env: []v1.EnvVar{
			{Name: "MY_IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "NODE", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "GREETING", Value: "hi $(NODE)"},
			{Name: "SECRET", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{Key: "k"}}},
		}}
	env := containerEnv(pod, c, []string{"10.1.0.5"}, "10.0.0.1")
	wantEnv := []string{basePath, "HOSTNAME=web-0", "MY_IP=10.1.0.5", "NODE=n1", "GREETING=hi n1"}
	if !reflect.DeepEqual(env, wantEnv) {
		t.Errorf("env %v\nwant %v", env, wantEnv)
	}
	argv := containerArgv(pod, c, []string{"/bin/lab"}, "", env)
	want := []string{"sh", "-c", "echo 10.1.0.5 n1 $(UNDEF) $(date)"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("argv %q\nwant %q", argv, want)
	}
}

func TestWrapperArgv(t *testing.T) {
	got := wrapperArgv("/bin/sh", "/sbin/ip", "/s/c.exit", "lab-abc", []string{"sleep", "1"})
	want := []string{"/bin/sh", "-c", wrapperScript, "lab-container", "/s/c.exit", "/sbin/ip", "netns", "exec", "lab-abc", "sleep", "1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
	if got := wrapperArgv("/bin/sh", "/sbin/ip", "/s/c.exit", "", []string{"x"}); slices.Contains(got, "netns") {
		t.Errorf("no namespace: %v", got)
	}
}

func TestRestartRules(t *testing.T) {
	if shouldRestart(v1.RestartPolicyNever, 1) || shouldRestart(v1.RestartPolicyOnFailure, 0) ||
		!shouldRestart(v1.RestartPolicyOnFailure, 2) || !shouldRestart(v1.RestartPolicyAlways, 0) {
		t.Errorf("restart policy rules wrong")
	}
	if restartDelay(0) != time.Second || restartDelay(2) != 4*time.Second || restartDelay(50) != 30*time.Second {
		t.Errorf("back-off: %v %v %v", restartDelay(0), restartDelay(2), restartDelay(50))
	}
}

func condOf(st v1.PodStatus, typ v1.PodConditionType) v1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return v1.PodCondition{}
}

func TestBuildStatus(t *testing.T) {
	now := time.Unix(1000, 0)
	pod := testPod()
	rec := newRecord(pod, "lab-", now)
	spec := &pod.Spec.Containers[0]

	t.Run("sandbox failure", func(t *testing.T) {
		st := buildStatus(podView{pod: pod, rec: rec, nodeIP: "10.0.0.1", sandboxErr: "cni: boom",
			containers: []containerView{{spec: spec}}}, now)
		c := condOf(st, v1.PodReadyToStartContainers)
		if st.Phase != v1.PodPending || c.Status != v1.ConditionFalse || c.Reason != "FailedCreatePodSandBox" || c.Message != "cni: boom" {
			t.Errorf("phase %s, condition %+v", st.Phase, c)
		}
		if w := st.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
			t.Errorf("container state %+v", st.ContainerStatuses[0].State)
		}
	})

	rec.NetworkReady, rec.IPs = true, []string{"10.1.0.5"}
	running := procState{Started: true, Running: true, Ready: true, StartedAt: now}
	st := buildStatus(podView{pod: pod, rec: rec, nodeIP: "10.0.0.1",
		containers: []containerView{{spec: spec, proc: running}}}, now)
	t.Run("running and ready", func(t *testing.T) {
		cs := st.ContainerStatuses[0]
		if st.Phase != v1.PodRunning || st.PodIP != "10.1.0.5" || st.HostIP != "10.0.0.1" || st.StartTime == nil {
			t.Errorf("status %+v", st)
		}
		if !cs.Ready || cs.State.Running == nil || cs.ContainerID != containerID(rec.SandboxID, "c") || !*cs.Started {
			t.Errorf("container status %+v", cs)
		}
		for _, typ := range []v1.PodConditionType{v1.PodScheduled, v1.PodReadyToStartContainers, v1.PodInitialized, v1.ContainersReady, v1.PodReady} {
			if c := condOf(st, typ); c.Status != v1.ConditionTrue || c.ObservedGeneration != 2 {
				t.Errorf("condition %s = %+v", typ, c)
			}
		}
	})

	t.Run("transition times kept", func(t *testing.T) {
		p2 := pod.DeepCopy()
		p2.Status = st
		p2.Status.Conditions = append(p2.Status.Conditions, v1.PodCondition{Type: "DisruptionTarget", Status: v1.ConditionTrue})
		st2 := buildStatus(podView{pod: p2, rec: rec, nodeIP: "10.0.0.1",
			containers: []containerView{{spec: spec, proc: running}}}, now.Add(time.Hour))
		if !condOf(st2, v1.PodReady).LastTransitionTime.Time.Equal(st.Conditions[4].LastTransitionTime.Time) {
			t.Errorf("Ready's transition time moved without a transition")
		}
		if condOf(st2, "DisruptionTarget").Status != v1.ConditionTrue {
			t.Errorf("a foreign condition was dropped")
		}
		notReady := running
		notReady.Ready = false
		st3 := buildStatus(podView{pod: p2, rec: rec, nodeIP: "10.0.0.1",
			containers: []containerView{{spec: spec, proc: notReady}}}, now.Add(time.Hour))
		c := condOf(st3, v1.PodReady)
		if c.Status != v1.ConditionFalse || c.Reason != "ContainersNotReady" || !c.LastTransitionTime.Time.Equal(now.Add(time.Hour)) {
			t.Errorf("not ready: %+v", c)
		}
	})

	exited := procState{Started: true, Exited: true, ExitCode: 3, StartedAt: now, FinishedAt: now.Add(time.Second)}
	t.Run("failed", func(t *testing.T) {
		st := buildStatus(podView{pod: pod, rec: rec, nodeIP: "10.0.0.1",
			containers: []containerView{{spec: spec, proc: exited, final: true}}}, now)
		term := st.ContainerStatuses[0].State.Terminated
		if st.Phase != v1.PodFailed || term == nil || term.ExitCode != 3 || term.Reason != "Error" {
			t.Errorf("phase %s, terminated %+v", st.Phase, term)
		}
		if c := condOf(st, v1.PodReady); c.Reason != "PodCompleted" {
			t.Errorf("ready condition %+v", c)
		}
	})
	t.Run("succeeded", func(t *testing.T) {
		ok := exited
		ok.ExitCode = 0
		st := buildStatus(podView{pod: pod, rec: rec, nodeIP: "10.0.0.1",
			containers: []containerView{{spec: spec, proc: ok, final: true}}}, now)
		if st.Phase != v1.PodSucceeded || st.ContainerStatuses[0].State.Terminated.Reason != "Completed" {
			t.Errorf("phase %s", st.Phase)
		}
	})
	t.Run("crash loop", func(t *testing.T) {
		cr := containerRecord{Name: "c", RestartCount: 2}
		st := buildStatus(podView{pod: pod, rec: rec, nodeIP: "10.0.0.1",
			containers: []containerView{{spec: spec, rec: cr, proc: exited, backoff: true}}}, now)
		cs := st.ContainerStatuses[0]
		if st.Phase != v1.PodRunning || cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" ||
			cs.RestartCount != 2 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 3 {
			t.Errorf("phase %s, container %+v", st.Phase, cs)
		}
	})
	t.Run("host network", func(t *testing.T) {
		hn := *rec
		hn.HostNetwork, hn.IPs = true, nil
		st := buildStatus(podView{pod: pod, rec: &hn, nodeIP: "10.0.0.1",
			containers: []containerView{{spec: spec, proc: running}}}, now)
		if st.PodIP != "10.0.0.1" || len(st.PodIPs) != 1 {
			t.Errorf("hostNetwork pod IPs %v", st.PodIPs)
		}
	})
}

func TestBuildNodeStatus(t *testing.T) {
	facts := hostFacts{CPUs: 2, MemoryBytes: 4 << 30, BootID: "b", Kernel: "6.1"}
	now := time.Unix(5000, 0)
	st := buildNodeStatus("n1", "10.0.0.1", facts, errors.New("no network config"), v1.NodeStatus{}, now)
	ready := st.Conditions[3]
	if ready.Type != v1.NodeReady || ready.Status != v1.ConditionFalse || ready.Reason != "KubeletNotReady" ||
		!strings.Contains(ready.Message, "NetworkPluginNotReady") || !strings.Contains(ready.Message, "no network config") {
		t.Errorf("not ready condition %+v", ready)
	}
	if st.NodeInfo.KubeletVersion != "v1.37.2-lab" || st.Capacity.Pods().Value() != 110 || st.Allocatable.Cpu().Value() != 2 {
		t.Errorf("node info %+v capacity %v", st.NodeInfo, st.Capacity)
	}
	if !reflect.DeepEqual(st.Addresses, []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "10.0.0.1"}, {Type: v1.NodeHostName, Address: "n1"}}) {
		t.Errorf("addresses %v", st.Addresses)
	}
	st.Conditions = append(st.Conditions, v1.NodeCondition{Type: v1.NodeNetworkUnavailable, Status: v1.ConditionFalse})
	later := now.Add(time.Minute)
	st2 := buildNodeStatus("n1", "10.0.0.1", facts, nil, st, later)
	if readyOf(st2) != v1.ConditionTrue || !st2.Conditions[3].LastTransitionTime.Time.Equal(later) {
		t.Errorf("ready %+v", st2.Conditions[3])
	}
	if !st2.Conditions[0].LastTransitionTime.Time.Equal(now) || !st2.Conditions[0].LastHeartbeatTime.Time.Equal(later) {
		t.Errorf("memory pressure times %+v", st2.Conditions[0])
	}
	if len(st2.Conditions) != 5 {
		t.Errorf("a foreign node condition was dropped: %v", st2.Conditions)
	}
}
