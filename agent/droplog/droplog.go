// Package droplog logs the connections NetworkPolicy denied on this node (docs/networkpolicy.md, "Drop
// visibility"): the logged default-drop flows send denied packets, rate-limited by an OVS meter, to the agent,
// which receives them through a long-running `ovs-ofctl monitor` connection and writes one log line per packet,
// rate-limited again by a token bucket. Lines dropped by either limit are counted.
package droplog

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/switchyard-net/switchyard/ovs/openflow"
)

// Message is the msg of every denied-connection log line.
const Message = "denied connection"

// Denial is what the agent knows about one denied packet.
type Denial struct {
	Direction string   // ingress or egress
	Pod       string   // the isolated local pod (namespace/name)
	Policies  []string // the policies isolating it in Direction (namespace/name)
	Proto     string   // tcp, udp, sctp, icmp, ip...
	Src, Dst  string   // address[:port]
	SrcPod    string   // namespace/name of the source pod, empty if the address is not a pod's
	DstPod    string
}

// Explain turns a packet-in into a Denial; false if it does not come from a logged default-drop flow (or the flow
// is no longer known: its cookie belongs to an older round).
type Explain func(p openflow.PacketIn) (Denial, bool)

// Logger writes the denied-connection log lines.
type Logger struct {
	node    string
	log     logrus.FieldLogger
	explain Explain
	limit   *rate.Limiter

	mu         sync.Mutex
	suppressed uint64 // lines not written since the last one
	total      uint64 // lines not written, ever
	unknown    uint64 // packet-ins Explain did not recognise
}

// New returns a Logger writing at most perSecond lines per second (bursts of perSecond) to log.
func New(node string, perSecond int, explain Explain, log logrus.FieldLogger) *Logger {
	return &Logger{node: node, log: log, explain: explain, limit: rate.NewLimiter(rate.Limit(perSecond), perSecond)}
}

// Handle logs one packet-in (or counts it as suppressed).
func (l *Logger) Handle(p openflow.PacketIn) {
	d, ok := l.explain(p)
	l.mu.Lock()
	if !ok {
		l.unknown++
		l.mu.Unlock()
		return
	}
	if !l.limit.Allow() {
		l.suppressed++
		l.total++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	l.log.WithFields(Fields(l.node, d, suppressed)).Info(Message)
}

// Fields are the fields of a denied-connection log line (docs/networkpolicy.md lists them).
func Fields(node string, d Denial, suppressed uint64) logrus.Fields {
	policies := strings.Join(d.Policies, ",")
	if policies == "" {
		policies = "none"
	}
	return logrus.Fields{"node": node, "direction": d.Direction, "pod": d.Pod, "policies": policies,
		"proto": d.Proto, "src": d.Src, "dst": d.Dst, "srcPod": orDash(d.SrcPod), "dstPod": orDash(d.DstPod),
		"suppressed": suppressed}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Suppressed is the number of denied-connection lines the agent's token bucket dropped since start.
func (l *Logger) Suppressed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Monitor delivers packet-ins until ctx ends or the connection breaks (openflow.Client.MonitorPacketIns).
type Monitor func(ctx context.Context, handle func(openflow.PacketIn)) error

// Run feeds the Logger from mon until ctx ends, reconnecting (after ovs-vswitchd restarts) with a backoff of up
// to 5 s.
func (l *Logger) Run(ctx context.Context, mon Monitor) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		t0 := time.Now()
		err := mon(ctx, l.Handle)
		if ctx.Err() != nil {
			return
		}
		if time.Since(t0) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		l.log.WithError(err).Debug("packet-in monitor ended; reconnecting")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
