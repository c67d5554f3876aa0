// Package cniconf writes the CNI network configuration list that tells the container runtime to use Switchyard.
package cniconf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Plugin is the switchyard entry of the conflist.
type Plugin struct {
	Type        string `json:"type"`
	AgentSocket string `json:"agentSocket"`
}

// List is a CNI 1.1 network configuration list.
type List struct {
	CNIVersion string   `json:"cniVersion"`
	Name       string   `json:"name"`
	Plugins    []Plugin `json:"plugins"`
}

// New returns the conflist for a network served by the agent at socket.
func New(network, socket string) List {
	return List{CNIVersion: "1.1.0", Name: network, Plugins: []Plugin{{Type: "switchyard", AgentSocket: socket}}}
}

// Write stores the list as dir/name atomically (temp file, fsync, rename): the runtime never reads half a file.
// An identical existing file is left untouched.
func Write(dir, name string, l List) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	path := filepath.Join(dir, name)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("CNI conf dir: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+name+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Remove deletes the conflist (uninstall); a missing file is fine.
func Remove(dir, name string) error {
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
