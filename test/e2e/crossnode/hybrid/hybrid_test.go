// Package hybrid runs the cross-node e2e suite on a lab in hybrid mode (geneve) on two subnets.
package hybrid

import (
	"testing"

	"github.com/switchyard-net/switchyard/test/e2e/crossnode"
)

func TestMain(m *testing.M) { crossnode.Main(m, crossnode.Lab("hybrid", "geneve", 4)) }

func TestCrossNode(t *testing.T) { crossnode.Run(t) }
