package ovsdb

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

const (
	reconnectFirstWait = 50 * time.Millisecond
	reconnectMaxWait   = 2 * time.Second
	// parkedWait is what the back-off answers once the client is closed: about 290 years.
	parkedWait = time.Duration(1<<63 - 1)
)

// reconnectBackOff paces libovsdb's reconnect attempts: exponential from 50 ms up to 2 s, and never giving up,
// because libovsdb panics when its reconnect back-off returns backoff.Stop.
//
// libovsdb offers no way to end a reconnect loop that is already running (Close only stops a connected client).
// So once the Client is closed the back-off parks that loop: the goroutine sleeps instead of dialing again.
type reconnectBackOff struct {
	exponential *backoff.ExponentialBackOff
	closed      <-chan struct{}
}

func newReconnectBackOff(closed <-chan struct{}) *reconnectBackOff {
	return &reconnectBackOff{
		exponential: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(reconnectFirstWait),
			backoff.WithMaxInterval(reconnectMaxWait),
			backoff.WithMaxElapsedTime(0), // retry forever
		),
		closed: closed,
	}
}

// NextBackOff implements backoff.BackOff.
func (b *reconnectBackOff) NextBackOff() time.Duration {
	select {
	case <-b.closed:
		return parkedWait
	default:
		return b.exponential.NextBackOff()
	}
}

// Reset implements backoff.BackOff.
func (b *reconnectBackOff) Reset() { b.exponential.Reset() }
