package workload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
)

// server is one bound socket answering with the pod's name.
type server interface {
	// serve answers until the server is closed (then it returns nil) or fails.
	serve() error
	Close() error
	String() string
}

// Serve binds every port of o on all addresses, writes o.ReadyFile once all are bound, and answers each TCP
// connection with o.Name+"\n" (then closes it), each UDP datagram with o.Name, and each SCTP association like
// TCP. When the kernel has no SCTP, Serve logs that once and serves the other protocols. It returns nil when ctx
// ends or the process receives SIGTERM or SIGINT, and an error when a port cannot be bound or a server fails.
func Serve(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	log := o.Log
	if log == nil {
		log = logrus.StandardLogger()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	servers, err := bindAll(o, log)
	if err != nil {
		return err
	}
	errs := make(chan error, len(servers))
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serve(); err != nil {
				errs <- fmt.Errorf("workload: %s: %w", s, err)
			}
		}()
	}
	if o.ReadyFile != "" {
		if err := writeReady(o.ReadyFile); err != nil {
			closeAll(servers)
			wg.Wait()
			return err
		}
		defer os.Remove(o.ReadyFile)
	}
	log.WithField("name", o.Name).Infof("serving tcp %v udp %v sctp %v", o.TCP, o.UDP, o.SCTP)

	select {
	case <-ctx.Done():
		err = nil
	case err = <-errs:
	}
	closeAll(servers)
	wg.Wait()
	return err
}

// bindAll binds every port of o; on failure it closes what it bound.
func bindAll(o Options, log logrus.FieldLogger) ([]server, error) {
	var servers []server
	fail := func(err error) ([]server, error) {
		closeAll(servers)
		return nil, err
	}
	for _, port := range o.TCP {
		s, err := listenTCP(port, o.Name)
		if err != nil {
			return fail(err)
		}
		servers = append(servers, s)
	}
	for _, port := range o.UDP {
		s, err := listenUDP(port, o.Name, log)
		if err != nil {
			return fail(err)
		}
		servers = append(servers, s...)
	}
	for i, port := range o.SCTP {
		s, err := listenSCTP(port, o.Name)
		if errors.Is(err, ErrNoSCTP) {
			if i == 0 {
				log.Warnf("not serving SCTP ports %v: %v", o.SCTP, err)
			}
			break
		}
		if err != nil {
			return fail(err)
		}
		servers = append(servers, s)
	}
	return servers, nil
}

func closeAll(servers []server) {
	for _, s := range servers {
		_ = s.Close()
	}
}
