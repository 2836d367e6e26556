//go:build !unix

package nets

// processCPU is not measured on this platform; the cpu-ms/op metric then reads 0.
func processCPU() int64 { return 0 }
