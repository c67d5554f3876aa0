// Package geneve runs the cross-node e2e suite on a lab in encap mode (geneve).
package geneve

import (
	"testing"

	"github.com/switchyard-net/switchyard/test/e2e/crossnode"
)

func TestMain(m *testing.M) { crossnode.Main(m, crossnode.Lab("encap", "geneve", 1)) }

func TestCrossNode(t *testing.T) { crossnode.Run(t) }
