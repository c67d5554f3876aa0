package agent

import (
	"errors"
	"fmt"

	"github.com/switchyard-net/switchyard/agent/config"
)

// Pods' tx checksum offload (and with it TSO, which needs it) follows what ovs-vswitchd can carry. On the userspace
// datapath that is other_config:userspace-tso-enable, which vswitchd reads when it starts; start-ovs.sh sets it,
// true for the netdev datapath in noEncap mode (docs/modes.md).

// errTSOWithTunnels: OVS 3.1's userspace tunnels drop TSO packets, and with TSO on vswitchd takes them from the host
// stack through the gateway whatever the pods do.
var errTSOWithTunnels = errors.New("ovs-vswitchd runs with other_config:userspace-tso-enable=true, but its userspace tunnels drop TSO packets (OVS 3.1): restart Open vSwitch with it off (start-ovs.sh turns it on only for noEncap)")

// podTxChecksumOff decides whether pods get tx checksum offload off, from the datapath, the traffic mode and whether
// vswitchd runs with userspace TSO:
//   - system datapath: on (the kernel datapath completes partial checksums and segments);
//   - netdev without TSO: off (vswitchd reads partial checksums over AF_PACKET and never completes them: TCP
//     between pods would stall);
//   - netdev with TSO in noEncap mode: on (vswitchd takes, conntracks, NATs and forwards TSO packets with partial
//     checksums, and no path needs a tunnel);
//   - netdev with TSO in encap or hybrid mode: off, with errTSOWithTunnels.
func podTxChecksumOff(datapath, mode string, tso bool) (bool, error) {
	switch {
	case datapath != config.DatapathNetdev:
		return false, nil
	case !tso:
		return true, nil
	case mode == config.ModeNoEncap:
		return false, nil
	default:
		return true, fmt.Errorf("trafficMode %s: %w", mode, errTSOWithTunnels)
	}
}

// followVswitchdOffloads brings the pods' tx checksum offload in line with the running vswitchd, after it restarted
// (possibly with other settings) or when the agent starts on a node with pods. Only on netdev: on the system
// datapath the offloads are the pods' own business.
func (a *Agent) followVswitchdOffloads() {
	if a.cfg.DatapathType != config.DatapathNetdev {
		return
	}
	off, err := podTxChecksumOff(a.cfg.DatapathType, a.cfg.TrafficMode, a.db.UserspaceTSO())
	log := a.log.WithField("component", "offloads")
	if err != nil {
		log.WithError(err).Error("pods keep tx checksum offload off; traffic from the node's host stack to pods of other nodes is dropped")
	}
	if off != a.pods.TxChecksumOff() {
		log.WithField("txChecksumOff", off).Warn("ovs-vswitchd's userspace TSO changed: changing the tx checksum offload of every pod")
	}
	for _, err := range a.pods.SetTxChecksumOff(off) {
		log.WithError(err).Warn("setting a pod's tx checksum offload")
	}
}
