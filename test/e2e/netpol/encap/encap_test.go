// Package encap runs the NetworkPolicy e2e suite on a lab in encap mode (geneve).
package encap

import (
	"testing"

	"github.com/switchyard-net/switchyard/test/e2e/netpol"
)

func TestMain(m *testing.M) { netpol.Main(m, netpol.Lab("encap", 0)) }

func TestNetworkPolicy(t *testing.T) { netpol.Run(t) }
