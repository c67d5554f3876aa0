package kubelet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// recordFile is the name of a pod's record inside its directory.
const recordFile = "pod.json"

// stateStore keeps the records of the pods this kubelet runs, in memory and under <stateDir>/pods/<uid>/.
// Accessors return copies: callers change a copy and save it.
type stateStore struct {
	dir  string
	mu   sync.Mutex
	pods map[types.UID]*podRecord
}

// openState loads every record under dir, creating the directory if needed.
func openState(dir string) (*stateStore, error) {
	s := &stateStore{dir: dir, pods: map[types.UID]*podRecord{}}
	root := filepath.Join(dir, "pods")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("kubelet: state dir: %w", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("kubelet: state dir: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(root, e.Name(), recordFile)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // a pod directory whose record was never written: nothing was started for it
		}
		if err != nil {
			return nil, fmt.Errorf("kubelet: reading %s: %w", path, err)
		}
		var r podRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("kubelet: decoding %s: %w", path, err)
		}
		if r.UID != types.UID(e.Name()) {
			return nil, fmt.Errorf("kubelet: %s holds pod uid %q, not %q", path, r.UID, e.Name())
		}
		s.pods[r.UID] = &r
	}
	return s, nil
}

// get returns a copy of the pod's record, or nil.
func (s *stateStore) get(uid types.UID) *podRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.pods[uid]; r != nil {
		return r.clone()
	}
	return nil
}

// all returns copies of every record.
func (s *stateStore) all() []*podRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*podRecord, 0, len(s.pods))
	for _, r := range s.pods {
		out = append(out, r.clone())
	}
	return out
}

// byKey returns copies of the records of pods named namespace/name (several when a pod was replaced by one with
// the same name).
func (s *stateStore) byKey(namespace, name string) []*podRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*podRecord
	for _, r := range s.pods {
		if r.Namespace == namespace && r.Name == name {
			out = append(out, r.clone())
		}
	}
	return out
}

// save writes r atomically (temporary file, fsync, rename) and remembers it.
func (s *stateStore) save(r *podRecord) error {
	dir := podDir(s.dir, r.UID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kubelet: saving pod %s: %w", r.key(), err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("kubelet: encoding pod %s: %w", r.key(), err)
	}
	if err := writeFileAtomic(filepath.Join(dir, recordFile), b); err != nil {
		return fmt.Errorf("kubelet: saving pod %s: %w", r.key(), err)
	}
	s.mu.Lock()
	s.pods[r.UID] = r.clone()
	s.mu.Unlock()
	return nil
}

// remove forgets the pod and deletes its directory (record, pidfiles, logs).
func (s *stateStore) remove(uid types.UID) error {
	s.mu.Lock()
	delete(s.pods, uid)
	s.mu.Unlock()
	if err := os.RemoveAll(podDir(s.dir, uid)); err != nil {
		return fmt.Errorf("kubelet: removing state of pod %s: %w", uid, err)
	}
	return nil
}

// writeFileAtomic replaces path with data so that readers see the old or the new content, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
