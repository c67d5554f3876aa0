package kubelet

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
)

// restartDelay is the crash-loop back-off after restarts restarts: 1 s doubling up to 30 s (shorter than a real
// kubelet's 10 s to 5 min, to keep the lab quick).
func restartDelay(restarts int32) time.Duration {
	return min(time.Second<<min(restarts, 5), 30*time.Second)
}

// shouldRestart applies the pod's restartPolicy to a container that exited with code.
func shouldRestart(policy v1.RestartPolicy, code int32) bool {
	switch policy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

// syncContainers starts containers that have not started (when the sandbox is ready), restarts ended ones as
// the restartPolicy says once their back-off has passed, and returns what it sees plus when to look again
// (0: at the next resync).
func (k *kubelet) syncContainers(pod *v1.Pod, rec *podRecord, sandboxReady bool) ([]containerView, time.Duration) {
	var views []containerView
	var wake time.Duration
	later := func(d time.Duration) {
		if d > 0 && (wake == 0 || d < wake) {
			wake = d
		}
	}
	now := time.Now()
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cr := rec.container(c.Name)
		f := filesOf(k.cfg.StateDir, rec.UID, c.Name)
		v := containerView{spec: c, rec: *cr, proc: observeProcess(f, isBuiltin(c))}
		switch {
		case !v.proc.Started && sandboxReady:
			v.proc, v.waitingReason, v.waitingMessage = k.start(pod, rec, c)
		case v.proc.Exited && !shouldRestart(pod.Spec.RestartPolicy, v.proc.ExitCode):
			v.final = true
		case v.proc.Exited:
			delay := restartDelay(cr.RestartCount)
			if left := v.proc.FinishedAt.Add(delay).Sub(now); left > 0 {
				v.backoff = true
				v.waitingMessage = fmt.Sprintf("back-off %v restarting failed container=%s pod=%s_%s(%s)",
					delay, c.Name, pod.Name, pod.Namespace, pod.UID)
				later(left)
				break
			}
			run := runOf(v.proc)
			cr.LastTermination = &run
			cr.RestartCount++
			if err := k.state.save(rec); err != nil {
				v.waitingReason, v.waitingMessage = "RunContainerError", err.Error()
				break
			}
			v.rec = *cr
			v.proc, v.waitingReason, v.waitingMessage = k.start(pod, rec, c)
		}
		views = append(views, v)
	}
	return views, wake
}

// start starts one container and returns its state, or the waiting reason and message when it cannot start.
func (k *kubelet) start(pod *v1.Pod, rec *podRecord, c *v1.Container) (procState, string, string) {
	f := filesOf(k.cfg.StateDir, rec.UID, c.Name)
	ips := rec.IPs
	if rec.HostNetwork {
		ips = []string{k.cfg.NodeIP}
	}
	env := containerEnv(pod, c, ips, k.cfg.NodeIP)
	argv := containerArgv(pod, c, k.cfg.ServeCommand, f.Ready, env)
	netns := rec.Netns
	if rec.HostNetwork {
		netns = k.cfg.NodeNetns
	}
	dir := podDir(k.cfg.StateDir, rec.UID)
	if st, err := os.Stat(c.WorkingDir); c.WorkingDir != "" && err == nil && st.IsDir() {
		dir = c.WorkingDir
	}
	if err := startProcess(f, wrapperArgv(k.shPath, k.ipPath, f.Exit, netns, argv), env, dir); err != nil {
		k.recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %v", err)
		return procState{}, "RunContainerError", err.Error()
	}
	k.log.Infof("pod %s: started container %s", rec.key(), c.Name)
	k.recorder.Eventf(pod, v1.EventTypeNormal, "Started", "Started container %s", c.Name)
	return observeProcess(f, isBuiltin(c)), "", ""
}

// stopContainers stops every container of the pod in parallel (SIGTERM, grace, SIGKILL). With clear, their
// pid, exit and ready files are removed too, so they count as never started.
func (k *kubelet) stopContainers(rec *podRecord, grace time.Duration, clear bool) error {
	var wg sync.WaitGroup
	errs := make([]error, len(rec.Containers))
	for i, c := range rec.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := filesOf(k.cfg.StateDir, rec.UID, c.Name)
			errs[i] = stopProcess(f, grace)
			if clear && errs[i] == nil {
				for _, p := range []string{f.Pid, f.Exit, f.Ready} {
					if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
						errs[i] = err
					}
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
