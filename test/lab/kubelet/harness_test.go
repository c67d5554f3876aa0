package kubelet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/switchyard-net/switchyard/test/nettest"
)

// Test binaries (the stand-in CNI plugin and the built-in server), built once per test run.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func buildBinaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "labkubelet-bin-")
		if buildErr != nil {
			return
		}
		for _, b := range []string{"fakecni", "labserve"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, b), "./testdata/"+b).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("building %s: %v: %s", b, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// harness is a kubelet on a fake API server with the stand-in CNI plugin, pod namespaces under a unique prefix
// and a node namespace; everything is removed when the test ends.
type harness struct {
	t        *testing.T
	client   *fake.Clientset
	cfg      Config
	cniLog   string // the plugin's call log
	failFile string // ADD fails while it exists
	confFile string
	cancel   context.CancelFunc
	done     chan error
	k        *kubelet
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	nettest.RequireRoot(t)
	bins := buildBinaries(t)
	dir := t.TempDir()
	for _, d := range []string{"conf", "cache", "state"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	nodeNS := nettest.NewNetns(t, "kln")
	nettest.Run(t, "ip", "-n", nodeNS, "link", "add", "node0", "type", "veth", "peer", "name", "node0p")
	nettest.Run(t, "ip", "-n", nodeNS, "addr", "add", "10.250.100.1/24", "dev", "node0")
	nettest.Run(t, "ip", "-n", nodeNS, "link", "set", "node0", "up")
	log := logrus.New()
	log.SetLevel(logrus.DebugLevel)
	log.SetOutput(testWriter{t})
	h := &harness{t: t, client: fake.NewClientset(),
		cniLog: filepath.Join(dir, "cni.log"), failFile: filepath.Join(dir, "fail"),
		confFile: filepath.Join(dir, "conf", "10-labtest.conflist")}
	h.cfg = Config{NodeName: "n1", NodeIP: "10.250.100.1", Client: h.client,
		CNIConfDir: filepath.Join(dir, "conf"), CNIBinDir: bins, CNICacheDir: filepath.Join(dir, "cache"),
		StateDir: filepath.Join(dir, "state"), NodeNetns: nodeNS,
		NetnsPrefix:  strings.ReplaceAll(nettest.UniqueName("sykl"), "-", "") + "-",
		ServeCommand: []string{filepath.Join(bins, "labserve")}, Log: log}
	if err := h.cfg.validate(true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.stop()
		if err := Teardown(context.Background(), h.cfg); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		if left, _ := listNetns(h.cfg.NetnsPrefix); len(left) > 0 {
			t.Errorf("namespaces left behind: %v", left)
		}
	})
	return h
}

// testWriter sends the kubelet's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func fastTiming() timing {
	return timing{leaseEvery: 200 * time.Millisecond, statusEvery: 500 * time.Millisecond,
		networkPoll: 100 * time.Millisecond, resync: 200 * time.Millisecond, maxGrace: 2 * time.Second,
		cniTimeout: 20 * time.Second, retryBase: 100 * time.Millisecond, retryMax: time.Second}
}

// writeConflist installs the stand-in plugin's network configuration (the node becomes Ready).
func (h *harness) writeConflist() {
	conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"labtest","plugins":[{"type":"fakecni","logFile":%q,"failFile":%q}]}`,
		h.cniLog, h.failFile)
	if err := os.WriteFile(h.confFile, []byte(conf), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// start runs a kubelet until stop.
func (h *harness) start() {
	h.t.Helper()
	k, err := newKubelet(h.cfg, newCNINetwork(h.cfg.CNIConfDir, h.cfg.CNIBinDir, h.cfg.CNICacheDir), fastTiming())
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.k, h.cancel, h.done = k, cancel, make(chan error, 1)
	go func() { h.done <- k.run(ctx) }()
}

// stop stops the kubelet (pods keep running).
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("run: %v", err)
	}
	h.cancel = nil
}

func (h *harness) createPod(p *v1.Pod) *v1.Pod {
	h.t.Helper()
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	if p.UID == "" {
		p.UID = types.UID(nettest.UniqueName("uid-" + p.Name))
	}
	p.Spec.NodeName = h.cfg.NodeName
	out, err := h.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) getPod(name string) (*v1.Pod, error) {
	return h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
}

// eventually polls cond every 50 ms for up to 20 s and fails with its last explanation.
func (h *harness) eventually(what string, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var why string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("%s: not within 20s: %s", what, why)
}

// waitPod waits until check accepts the pod.
func (h *harness) waitPod(name string, check func(*v1.Pod) bool) *v1.Pod {
	h.t.Helper()
	var p *v1.Pod
	h.eventually("pod "+name, func() (bool, string) {
		var err error
		p, err = h.getPod(name)
		if err != nil {
			return false, err.Error()
		}
		return check(p), fmt.Sprintf("phase %s conditions %v containers %v", p.Status.Phase, p.Status.Conditions, p.Status.ContainerStatuses)
	})
	return p
}

// cniCalls counts the plugin's calls of one command (ADD, DEL, CHECK, GC) that mention substr.
func (h *harness) cniCalls(cmd, substr string) int {
	b, _ := os.ReadFile(h.cniLog)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, cmd+" ") && strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// podRecordOf returns the kubelet's record of the pod (nil when it has none).
func (h *harness) podRecordOf(p *v1.Pod) *podRecord {
	s, err := openState(h.cfg.StateDir)
	if err != nil {
		h.t.Fatal(err)
	}
	return s.get(p.UID)
}

// pidOf returns the pid of the container's process group leader, 0 when none runs.
func (h *harness) pidOf(p *v1.Pod, container string) int {
	f := filesOf(h.cfg.StateDir, p.UID, container)
	pid, err := readPid(f.Pid)
	if err != nil || !leaderAlive(pid, f.Exit) {
		return 0
	}
	return pid
}

func isReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func builtinPod(name string) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PodSpec{Containers: []v1.Container{{
		Name: "srv", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
		Ports: []v1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 5353, Protocol: v1.ProtocolUDP}},
	}}}}
}

func commandPod(name string, policy v1.RestartPolicy, script string) *v1.Pod {
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PodSpec{RestartPolicy: policy,
		Containers: []v1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", script}}}}}
}
