package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Path is a pair of namespaces to measure traffic between: a client and a server at ServerIP.
type Path struct {
	Key, Name          string
	ClientNS, ServerNS string
	ServerIP           string
	MTU                int
}

// PathResult is the traffic measured on a path, one value per repetition.
type PathResult struct {
	Path
	Gbps1, Gbps4 []float64 // iperf3 TCP, 1 and 4 streams, receiver side
	Retrans1     []float64 // TCP retransmits of the 1-stream runs
	CRR          []float64 // connections per second
}

// measurePath runs iperf3 with 1 and 4 streams and the connection-rate test once each on p.
func measurePath(ctx context.Context, p Path, dur time.Duration, r *PathResult) error {
	port := 5201
	stopSrv, err := startServer(p.ServerNS, port, "iperf3", "-s", "-p", strconv.Itoa(port))
	if err != nil {
		return err
	}
	defer stopSrv()
	for _, streams := range []int{1, 4} {
		bps, retr, err := iperf(ctx, p, port, streams, dur)
		if err != nil {
			return fmt.Errorf("%s: iperf3 -P %d: %w", p.Name, streams, err)
		}
		if streams == 1 {
			r.Gbps1 = append(r.Gbps1, bps/1e9)
			r.Retrans1 = append(r.Retrans1, retr)
		} else {
			r.Gbps4 = append(r.Gbps4, bps/1e9)
		}
	}
	rate, err := crr(ctx, p, 5301, dur)
	if err != nil {
		return fmt.Errorf("%s: connection rate: %w", p.Name, err)
	}
	r.CRR = append(r.CRR, rate)
	return nil
}

// startServer starts a server process in a namespace, waits until something listens on TCP port in that
// namespace, and returns its stop function (SIGKILL to that pid only).
func startServer(ns string, port int, name string, args ...string) (func(), error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	f, err := os.CreateTemp("", "sybnsrv")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		f.Close()
		os.Remove(f.Name())
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port)).Output()
		if strings.TrimSpace(string(out)) != "" {
			return stop, nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(f.Name())
			stop()
			return nil, fmt.Errorf("%s in %s is not listening on port %d after 15 s: %s", name, ns, port, b)
		}
	}
}

// iperf runs an iperf3 client and returns the receiver's bits per second and the sender's retransmits. (iperf3 -J
// may exit 0 with an "error" in its JSON: both are checked.)
func iperf(ctx context.Context, p Path, port, streams int, dur time.Duration) (float64, float64, error) {
	secs := strconv.Itoa(max(1, int(dur.Seconds())))
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", p.ClientNS, "iperf3", "-c", p.ServerIP, "-p", strconv.Itoa(port),
		"-t", secs, "-P", strconv.Itoa(streams), "-J").Output()
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
			SumSent struct {
				Retransmits float64 `json:"retransmits"`
			} `json:"sum_sent"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, out)
	}
	if res.Error != "" || err != nil {
		return 0, 0, fmt.Errorf("%v %s", err, res.Error)
	}
	return res.End.SumReceived.BitsPerSecond, res.End.SumSent.Retransmits, nil
}

// crr runs the connection-rate test (this binary's crr-server and crr-client) and returns connections per second.
// The client namespace reuses TIME_WAIT ports (crr-client binds its source ports itself), as a load generator would;
// each run in a namespace starts with the source port after the last one the run before used (crrNextPort).
func crr(ctx context.Context, p Path, port int, dur time.Duration) (float64, error) {
	if err := sysctls(p.ClientNS, "net.ipv4.tcp_tw_reuse=1",
		fmt.Sprintf("net.ipv4.ip_local_port_range=%d %d", crrFirstPort, crrLastPort)); err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	addr := fmt.Sprintf("%s:%d", p.ServerIP, port)
	stop, err := startServer(p.ServerNS, port, self, "crr-server", "-listen", addr)
	if err != nil {
		return 0, err
	}
	defer stop()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", p.ClientNS, self, "crr-client", "-addr", addr,
		"-duration", dur.String(), "-first-port", strconv.Itoa(crrNextPort.get(p.ClientNS))).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	var r CRRResult
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	crrNextPort.set(p.ClientNS, r.NextPort)
	if r.Transactions == 0 {
		return 0, fmt.Errorf("no transaction completed (%d errors)", r.Errors)
	}
	return r.PerSecond, nil
}

// crrNextPort remembers, per client namespace, the source port its next connection-rate run starts with.
var crrNextPort = portBook{next: map[string]int{}}

type portBook struct {
	mu   sync.Mutex
	next map[string]int
}

func (b *portBook) get(ns string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n, ok := b.next[ns]; ok {
		return n
	}
	return crrFirstPort
}

func (b *portBook) set(ns string, port int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next[ns] = port
}

// linkMTU reads an interface's MTU inside a namespace.
func linkMTU(ns, dev string) int {
	out, err := exec.Command("ip", "-n", ns, "-j", "link", "show", dev).Output()
	if err != nil {
		return 0
	}
	var ls []struct {
		MTU int `json:"mtu"`
	}
	if json.Unmarshal(out, &ls) != nil || len(ls) == 0 {
		return 0
	}
	return ls[0].MTU
}
