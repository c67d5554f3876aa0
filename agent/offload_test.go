package agent

import (
	"errors"
	"testing"

	"github.com/switchyard-net/switchyard/agent/config"
)

func TestPodTxChecksumOff(t *testing.T) {
	for _, c := range []struct {
		datapath, mode string
		tso            bool
		wantOff        bool
		wantErr        bool
	}{
		{config.DatapathSystem, config.ModeEncap, false, false, false},
		{config.DatapathSystem, config.ModeNoEncap, true, false, false}, // the key means nothing to the kernel datapath
		{config.DatapathNetdev, config.ModeEncap, false, true, false},
		{config.DatapathNetdev, config.ModeNoEncap, false, true, false},
		{config.DatapathNetdev, config.ModeHybrid, false, true, false},
		{config.DatapathNetdev, config.ModeNoEncap, true, false, false},
		{config.DatapathNetdev, config.ModeEncap, true, true, true},
		{config.DatapathNetdev, config.ModeHybrid, true, true, true},
	} {
		off, err := podTxChecksumOff(c.datapath, c.mode, c.tso)
		if off != c.wantOff || (err != nil) != c.wantErr {
			t.Errorf("podTxChecksumOff(%s, %s, tso=%t) = %t, %v; want %t, error %t", c.datapath, c.mode, c.tso, off, err, c.wantOff, c.wantErr)
		}
		if err != nil && !errors.Is(err, errTSOWithTunnels) {
			t.Errorf("podTxChecksumOff(%s, %s, tso=%t) error %v does not wrap errTSOWithTunnels", c.datapath, c.mode, c.tso, err)
		}
	}
}
