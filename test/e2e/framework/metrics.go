package framework

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-net/switchyard/test/lab/forward"
)

// Metrics scrapes node i's agent (its /metrics on the node's loopback, 127.0.0.1:9830, from inside the node's
// namespace) and returns every sample by its name with labels (`switchyard_flows{table="Classifier"}`).
func (f *Framework) Metrics(t testing.TB, i int) map[string]float64 {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, a string) (net.Conn, error) {
			return forward.Dial(ctx, "/run/netns/"+f.NodeNetns(i), a)
		}}}
	resp, err := client.Get(fmt.Sprintf("http://%s/metrics", "127.0.0.1:9830"))
	if err != nil {
		t.Fatalf("scraping node %d's agent: %v", i, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
