package pods

import (
	"errors"
	"fmt"
	"os"

	"github.com/switchyard-net/switchyard/cni/podnet"
)

// TxChecksumOff says whether pods attached now get tx checksum offload off.
func (m *Manager) TxChecksumOff() bool { return m.txChecksumOff.Load() }

// SetTxChecksumOff sets the tx checksum offload (and with it TSO) of pods: off when the switch cannot complete
// partial checksums, on when it can. Pods attached from now on get it, and every attached pod's interface is changed
// to it, so that a switch whose offload support changed (ovs-vswitchd restarted with other settings) neither stalls
// the TCP of pods attached before (partial checksums it cannot complete) nor leaves them without TSO. A pod whose
// netns is gone is skipped (its DEL is due). It returns the pods that could not be changed.
func (m *Manager) SetTxChecksumOff(off bool) []error {
	m.txChecksumOff.Store(off)
	var errs []error
	for _, p := range m.List() {
		if err := m.setPodTxChecksum(p.Key, !off); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", p.Ref(), err))
		}
	}
	return errs
}

// setPodTxChecksum changes one attached pod, holding its key so no ADD or DEL of it runs meanwhile.
func (m *Manager) setPodTxChecksum(k Key, on bool) error {
	defer m.lock(k)()
	p := m.Get(k)
	if p == nil || p.Netns == "" {
		return nil // detached meanwhile, or restored from a record without its netns
	}
	if _, err := os.Stat(p.Netns); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return podnet.SetTxChecksum(p.Netns, p.IfName, on)
}
