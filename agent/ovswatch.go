package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ovs-vswitchd keeps OpenFlow flows in memory only: when it restarts (crash, upgrade of the switchyard-ovs
// container) br-int comes back empty. The agent notices from the bridge's management socket, which vswitchd
// creates anew when it starts, and replays every flow (a Reconcile with a new cookie round) — without restarting
// itself and without waiting for any Kubernetes event.

// watchVswitchd polls br-int's management socket every interval and reconciles the flows when the socket is a new
// one (a new ovs-vswitchd), until ctx ends.
func (a *Agent) watchVswitchd(ctx context.Context, interval time.Duration) {
	mgmt := filepath.Join(a.cfg.OVSRunDir, a.cfg.Bridge+".mgmt")
	last := socketID(mgmt)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		id := socketID(mgmt)
		if id == (fileID{}) || id == last {
			continue // vswitchd down (no socket yet), or unchanged
		}
		last = id
		a.replayAfterVswitchdRestart(ctx)
	}
}

// replayAfterVswitchdRestart waits for br-int to answer OpenFlow again, reinstalls every desired flow and group, and
// changes the pods' offloads if the new vswitchd's differ.
func (a *Agent) replayAfterVswitchdRestart(ctx context.Context) {
	t0 := time.Now()
	log := a.log.WithField("component", "ovswatch")
	log.Warn("ovs-vswitchd restarted (new management socket): replaying flows")
	if err := a.waitOpenFlow(ctx); err != nil {
		log.WithError(err).Error("br-int does not answer after the vswitchd restart")
		return
	}
	for attempt := 1; ; attempt++ {
		err := errors.New("the meter of logged denials is not set")
		if !a.deniedLogging || a.setDeniedLogMeter(ctx) {
			err = a.store.Reconcile(ctx)
		}
		if err == nil {
			break
		}
		log.WithError(err).WithField("attempt", attempt).Warn("replaying flows")
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := a.db.SetFlowRestoreWait(ctx, false); err != nil {
		log.WithError(err).Warn("clearing flow-restore-wait")
	}
	a.followVswitchdOffloads()
	took := time.Since(t0)
	a.metrics.SetReconcile(took)
	log.WithField("took", took.Round(time.Millisecond)).Info("flows replayed after the vswitchd restart")
}

// fileID identifies one incarnation of a file; the zero value stands for no file.
type fileID struct {
	ino   uint64
	ctime syscall.Timespec
}

// socketID identifies a unix socket file by its inode and its change time (the zero fileID when it does not
// exist). The inode alone is not enough: file systems such as ext4 hand a freed inode number to the next file
// created, so a vswitchd that restarts between two polls can recreate its socket under the same number.
func socketID(path string) fileID {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileID{ino: s.Ino, ctime: s.Ctim}
	}
	return fileID{}
}
