package kubelet

import (
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"
)

// podDir is where a pod's record, pidfiles, exit files, ready files and logs live.
func podDir(stateDir string, uid types.UID) string {
	return filepath.Join(stateDir, "pods", string(uid))
}

// containerFiles are the files of one container of a pod.
type containerFiles struct {
	Pid   string // pid of the container's process group leader (the wrapper shell), written once started
	Exit  string // the exit code, written by the wrapper when the process ends
	Ready string // the built-in server's ready file
	Log   string // stdout and stderr, appended across restarts
}

func filesOf(stateDir string, uid types.UID, container string) containerFiles {
	base := filepath.Join(podDir(stateDir, uid), container)
	return containerFiles{Pid: base + ".pid", Exit: base + ".exit", Ready: base + ".ready", Log: base + ".log"}
}
