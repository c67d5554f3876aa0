package controlplane

import (
	"os"
	"path/filepath"
)

// DefaultBinDir is where test/controlplane/build.sh puts the binaries: $SWITCHYARD_CONTROLPLANE_BIN if set,
// else ${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}/controlplane/bin.
func DefaultBinDir() string {
	if dir := os.Getenv("SWITCHYARD_CONTROLPLANE_BIN"); dir != "" {
		return dir
	}
	cache := os.Getenv("SWITCHYARD_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "/root"
		}
		cache = filepath.Join(home, ".cache", "switchyard")
	}
	return filepath.Join(cache, "controlplane", "bin")
}

// MissingBinaries lists the control plane binaries absent from binDir (empty when all are there).
func MissingBinaries(binDir string) []string {
	var missing []string
	for _, name := range components {
		if st, err := os.Stat(filepath.Join(binDir, name)); err != nil || st.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	return missing
}
