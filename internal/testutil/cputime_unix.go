//go:build unix

package testutil

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user + system) this process has used so far. Benchmarks report it per
// operation because on a shared machine wall time also counts waiting for a core.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
