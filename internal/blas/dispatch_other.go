//go:build !amd64 || purego

package blas

// useAsm is false: this build has no assembly microkernel.
const useAsm = false

func kernelAsm(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	kernelGo(k, a, b, c, ldc, flags, ep)
}

func kernelAsmRows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	panic("blas: no assembly kernel in this build")
}
