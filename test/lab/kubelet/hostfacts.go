package kubelet

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// hostFacts are the machine's numbers every lab node reports (all lab nodes share one machine).
type hostFacts struct {
	CPUs        int
	MemoryBytes int64
	BootID      string
	Kernel      string
}

// readHostFacts reads the CPU count, MemTotal from /proc/meminfo, the boot id and the kernel release; what
// cannot be read is left zero or empty.
func readHostFacts() hostFacts {
	f := hostFacts{CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		f.BootID = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f.Kernel = strings.TrimSpace(string(b))
	}
	if mf, err := os.Open("/proc/meminfo"); err == nil {
		defer mf.Close()
		s := bufio.NewScanner(mf)
		for s.Scan() {
			fields := strings.Fields(s.Text()) // MemTotal: 16318252 kB
			if len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
					f.MemoryBytes = kb * 1024
				}
			}
		}
	}
	return f
}
