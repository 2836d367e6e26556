//go:build !unix

package blas

import "time"

func processCPU() time.Duration { return 0 }
