//go:build unix

package processor_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used: on a shared machine it
// measures the work itself, where wall time includes waiting for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
