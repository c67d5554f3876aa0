package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ, 100 on every Linux architecture the project builds for).
const userHZ = 100

func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// processCPU is the CPU time a process has used so far, its threads and its waited-for children included
// (utime, stime, cutime and cstime of /proc/<pid>/stat): for the agent, the ovs-ofctl processes it ran.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it start behind its closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state): utime..cstime are fields 14..17
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var sum uint64
	for _, x := range f[11:15] {
		n, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		sum += n
	}
	return ticks(sum), nil
}

// machineBusy is the CPU time all cores of the machine have spent on anything but idling and waiting for I/O so far
// (the first line of /proc/stat).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy uint64
	for i, x := range f[1:9] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return ticks(busy), nil
}

// cpuMeter takes the CPU times of the machine and of named processes at the start and the end of a phase.
type cpuMeter struct {
	pids  map[string]int
	start map[string]time.Duration
}

// machineCPU is the key of the whole machine's busy time in a cpuMeter's readings.
const machineCPU = "machine"

func newCPUMeter(pids map[string]int) *cpuMeter { return &cpuMeter{pids: pids} }

func (m *cpuMeter) read() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	var err error
	if out[machineCPU], err = machineBusy(); err != nil {
		return nil, err
	}
	for name, pid := range m.pids {
		if out[name], err = processCPU(pid); err != nil {
			return nil, fmt.Errorf("CPU time of %s: %w", name, err)
		}
	}
	return out, nil
}

// begin starts the phase.
func (m *cpuMeter) begin() error {
	var err error
	m.start, err = m.read()
	return err
}

// end returns the CPU time each used since begin.
func (m *cpuMeter) end() (map[string]time.Duration, error) {
	now, err := m.read()
	if err != nil {
		return nil, err
	}
	for k := range now {
		now[k] -= m.start[k]
	}
	return now, nil
}
