package kubelet

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// procStat is the part of /proc/<pid>/stat the kubelet needs.
type procStat struct {
	state byte // R, S, D, Z, ...
	sid   int  // session id
}

// readProcStat parses /proc/<pid>/stat (the command name may contain spaces and parentheses: fields are counted
// from the last ')').
func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	fields := strings.Fields(string(b[i+1:])) // state ppid pgrp session ...
	if len(fields) < 4 || len(fields[0]) != 1 {
		return procStat{}, false
	}
	sid, err := strconv.Atoi(fields[3])
	if err != nil {
		return procStat{}, false
	}
	return procStat{state: fields[0][0], sid: sid}, true
}

// live says whether a process in this state still runs (zombies and dead processes do not).
func (s procStat) live() bool { return s.state != 'Z' && s.state != 'X' && s.state != 'x' }

// leaderAlive says whether pid is a live process whose command line mentions marker (the container's exit file,
// so a reused pid is not mistaken for the container).
func leaderAlive(pid int, marker string) bool {
	st, ok := readProcStat(pid)
	if !ok || !st.live() {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && bytes.Contains(cmdline, []byte(marker))
}

// sessionMembers lists the live processes of session sid.
func sessionMembers(sid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readProcStat(pid); ok && st.sid == sid && st.live() {
			pids = append(pids, pid)
		}
	}
	return pids
}
