package kubelet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"
)

// PodNetns returns the name of the network namespace the kubelet with this state directory made for the pod
// (the lab's exec and probe commands use it). A hostNetwork pod has none: the caller uses the node's.
func PodNetns(stateDir string, uid types.UID) (string, error) {
	b, err := os.ReadFile(filepath.Join(podDir(stateDir, uid), recordFile))
	if err != nil {
		return "", fmt.Errorf("pod %s is not running on this node yet: %w", uid, err)
	}
	var r podRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("pod %s: %w", uid, err)
	}
	if r.Netns == "" || !r.NetworkReady {
		return "", fmt.Errorf("pod %s/%s has no network namespace ready", r.Namespace, r.Name)
	}
	return r.Netns, nil
}
