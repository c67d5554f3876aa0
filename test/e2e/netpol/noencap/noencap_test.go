// Package noencap runs the NetworkPolicy e2e suite on a lab in noEncap mode (direct routing between nodes).
package noencap

import (
	"testing"

	"github.com/switchyard-net/switchyard/test/e2e/netpol"
)

func TestMain(m *testing.M) { netpol.Main(m, netpol.Lab("noEncap", 1)) }

func TestNetworkPolicy(t *testing.T) { netpol.Run(t) }
