//go:build amd64 && !purego

package blas

import "golang.org/x/sys/cpu"

// useAsm selects the generated AVX2+FMA microkernel when the CPU has both.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernelAsm runs the assembly microkernel after checking the bounds it relies on.
func kernelAsm(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	_ = a[k*mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	var scale, bias *float32
	if flags&flagEpilogue != 0 {
		_, _ = ep.scale[nr-1], ep.bias[nr-1]
		scale, bias = &ep.scale[0], &ep.bias[0]
	}
	kernel6x16(k, &a[0], &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}

// kernelAsmRows runs the in-place-A assembly microkernel after checking its bounds.
func kernelAsmRows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	_ = a[(mr-1)*lda+k-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	var scale, bias *float32
	if flags&flagEpilogue != 0 {
		_, _ = ep.scale[nr-1], ep.bias[nr-1]
		scale, bias = &ep.scale[0], &ep.bias[0]
	}
	kernel6x16Rows(k, &a[0], lda, &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}
