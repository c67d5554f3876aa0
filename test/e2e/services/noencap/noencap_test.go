// Package noencap runs the Service e2e suite on a lab in noEncap mode.
package noencap

import (
	"testing"

	"github.com/switchyard-net/switchyard/test/e2e/services"
)

func TestMain(m *testing.M) { services.Main(m, services.Lab("noEncap", 2)) }

func TestServices(t *testing.T) { services.Run(t) }
