//go:build amd64 && !purego

package blas

import "golang.org/x/sys/cpu"

// useAsm selects the generated AVX2+FMA microkernel when the CPU has both.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernelAsm runs the assembly microkernel; the slices were bounds-checked by the driver.
func kernelAsm(k int, a, b, c []float32, ldc int) {
	_ = a[k*mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	kernel6x16(k, &a[0], &b[0], &c[0], ldc)
}
