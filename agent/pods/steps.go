package pods

import (
	"strings"
	"sync"
	"time"
)

// steps times the steps of one ADD or DEL, for the log line that ends it ("ipam=1.2ms veth=0.9ms ..."): where an
// attachment's time goes, without a profiler. Steps may run concurrently; each is timed on its own.
type steps struct {
	start time.Time
	mu    sync.Mutex
	parts []string
}

func newSteps() *steps { return &steps{start: time.Now()} }

// total is the time since newSteps: the whole ADD or DEL, waits for locks and the gaps between steps included.
func (s *steps) total() time.Duration { return time.Since(s.start).Round(10 * time.Microsecond) }

// time starts timing the step name; call the returned function when it ends.
func (s *steps) time(name string) func() {
	t0 := time.Now()
	return func() {
		d := time.Since(t0)
		s.mu.Lock()
		s.parts = append(s.parts, name+"="+d.Round(10*time.Microsecond).String())
		s.mu.Unlock()
	}
}

func (s *steps) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.parts, " ")
}
