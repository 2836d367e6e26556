//go:build !unix

package web

import "time"

// processCPU is not measured off Unix; benchmarks then report 0 cpu-ms/op.
func processCPU() time.Duration { return 0 }
