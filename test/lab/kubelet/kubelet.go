package kubelet

import (
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// timing holds the kubelet's periods; tests shorten them.
type timing struct {
	leaseEvery  time.Duration // Lease renewal
	statusEvery time.Duration // node status heartbeat
	networkPoll time.Duration // how often the CNI configuration is looked for
	resync      time.Duration // how often every pod is synced (process exits, ready files)
	maxGrace    time.Duration // longest SIGTERM-to-SIGKILL wait
	cniTimeout  time.Duration // bound on one CNI operation
	retryBase   time.Duration // first sandbox retry delay, doubled per failure
	retryMax    time.Duration
}

func defaultTiming() timing {
	return timing{leaseEvery: 10 * time.Second, statusEvery: 30 * time.Second, networkPoll: time.Second,
		resync: time.Second, maxGrace: 5 * time.Second, cniTimeout: time.Minute,
		retryBase: 500 * time.Millisecond, retryMax: 30 * time.Second}
}

// kubelet is one running kubelet.
type kubelet struct {
	cfg    Config
	log    logrus.FieldLogger
	net    network
	state  *stateStore
	facts  hostFacts
	timing timing
	shPath string // the wrapper shell
	ipPath string // iproute2's ip, for ip netns exec

	pods     corelisters.PodLister                        // set by run
	queue    workqueue.TypedRateLimitingInterface[string] // pod keys; set by run
	recorder record.EventRecorder                         // set by run

	// netLock is held for reading around every CNI ADD, CHECK and DEL until the pod's record is saved, and for
	// writing by GC, so GC's valid list never misses an attachment being made.
	netLock sync.RWMutex

	mu       sync.Mutex
	verified map[types.UID]bool          // sandboxes checked since this kubelet started
	retries  map[types.UID]*sandboxRetry // sandboxes whose creation failed
}

// sandboxRetry is the back-off state of a pod whose sandbox could not be created.
type sandboxRetry struct {
	failures int
	next     time.Time
	err      string
}

// newKubelet prepares a kubelet for a validated cfg: it loads the state and finds sh and ip.
func newKubelet(cfg Config, net network, t timing) (*kubelet, error) {
	state, err := openState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("kubelet: finding sh: %w", err)
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		return nil, fmt.Errorf("kubelet: finding ip (iproute2): %w", err)
	}
	return &kubelet{
		cfg: cfg, log: cfg.Log.WithField("node", cfg.NodeName), net: net, state: state,
		facts: readHostFacts(), timing: t, shPath: sh, ipPath: ipPath,
		verified: map[types.UID]bool{}, retries: map[types.UID]*sandboxRetry{},
		recorder: &record.FakeRecorder{}, // replaced by run; Teardown records nothing
	}, nil
}

func (k *kubelet) isVerified(uid types.UID) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.verified[uid]
}

func (k *kubelet) setVerified(uid types.UID, v bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v {
		k.verified[uid] = true
	} else {
		delete(k.verified, uid)
	}
}

// forget drops what the kubelet holds in memory about a pod.
func (k *kubelet) forget(uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.verified, uid)
	delete(k.retries, uid)
}
