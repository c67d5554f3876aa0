// Package geneve runs the Service e2e suite on a lab in encap mode (geneve).
package geneve

import (
	"testing"

	"github.com/switchyard-net/switchyard/test/e2e/services"
)

func TestMain(m *testing.M) { services.Main(m, services.Lab("encap", 1)) }

func TestServices(t *testing.T) { services.Run(t) }
