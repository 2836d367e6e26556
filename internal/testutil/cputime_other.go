//go:build !unix

package testutil

import "time"

// CPUTime is not measured off Unix: it returns 0, so benchmarks report 0 cpu-ms/op there.
func CPUTime() time.Duration { return 0 }
