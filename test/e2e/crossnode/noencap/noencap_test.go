// Package noencap runs the cross-node e2e suite on a lab in noEncap mode.
package noencap

import (
	"testing"

	"github.com/switchyard-net/switchyard/test/e2e/crossnode"
)

func TestMain(m *testing.M) { crossnode.Main(m, crossnode.Lab("noEncap", "geneve", 3)) }

func TestCrossNode(t *testing.T) { crossnode.Run(t) }
