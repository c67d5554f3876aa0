package workload

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeReady writes path atomically (a temporary file renamed into place), so a reader never sees it half written.
func writeReady(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("workload: ready file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString("ready\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("workload: ready file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("workload: ready file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("workload: ready file %s: %w", path, err)
	}
	return nil
}
