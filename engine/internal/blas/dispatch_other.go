//go:build !amd64 || purego

package blas

// kernels has only the portable kernel: this build has no assembly.
var kernels = []*kernel{goKernel}

// packed computes a tile with A packed (see kernel).
func (kern *kernel) packed(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	kernelGo(k, a, b, c, ldc, flags, ep)
}

// rows computes a tile with A read in place (see kernel).
func (kern *kernel) rows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	kernelGoRows(k, a, lda, b, c, ldc, flags, ep)
}
