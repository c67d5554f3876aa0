package cniconf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteIsAtomicAndIdempotent(t *testing.T) {
	dir := t.TempDir()
	l := New("switchyard", "/var/run/switchyard/agent.sock")
	if err := Write(dir, "10-switchyard.conflist", l); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "10-switchyard.conflist")
	st1, _ := os.Stat(path)
	if err := Write(dir, "10-switchyard.conflist", l); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(path)
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("identical rewrite changed the file")
	}
	var got List
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.CNIVersion != "1.1.0" || got.Name != "switchyard" || len(got.Plugins) != 1 || got.Plugins[0].Type != "switchyard" {
		t.Errorf("unexpected conflist %s", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
	if err := Remove(dir, "10-switchyard.conflist"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dir, "10-switchyard.conflist"); err != nil {
		t.Fatal(err)
	}
}
