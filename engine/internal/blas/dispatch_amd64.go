//go:build amd64 && !purego

package blas

import "golang.org/x/sys/cpu"

// kernels are the microkernels this CPU runs, fastest first: the generated AVX-512 and
// AVX2+FMA kernels where the CPU (and OS) support them, and always the portable one.
var kernels = func() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
		avx512Kernel.narrow = avx2Kernel
	}
	return append(ks, goKernel)
}()

// avx2Kernel is kernel6x16: 12 YMM accumulators. Its blocking was tuned on Zen 3 (L1d 32 KiB,
// L2 512 KiB) and re-measured on Zen 5.
var avx2Kernel = &kernel{name: "avx2", id: idAVX2, mr: 6, nr: 16, kcMax: 320, mcMax: 120}

// avx512Kernel is kernel12x32: 24 ZMM accumulators, blocking for Zen 5 (L1d 48 KiB, L2 1 MiB);
// kernel4x32 and kernel8x32 take the last 1–4 and 5–8 rows.
var avx512Kernel = &kernel{name: "avx512", id: idAVX512, mr: 12, nr: 32, kcMax: 384, mcMax: 480,
	tails: []*kernel{
		{name: "avx512x4", id: idAVX512x4, mr: 4, nr: 32, kcMax: 384, mcMax: 480},
		{name: "avx512x8", id: idAVX512x8, mr: 8, nr: 32, kcMax: 384, mcMax: 480},
	}}

// packed computes a tile with A packed (see kernel).
func (kern *kernel) packed(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	switch kern.id {
	case idAVX512:
		kernelAVX512(k, a, b, c, ldc, flags, ep)
	case idAVX512x8:
		kernelAVX512x8(k, a, b, c, ldc, flags, ep)
	case idAVX512x4:
		kernelAVX512x4(k, a, b, c, ldc, flags, ep)
	case idAVX2:
		kernelAVX2(k, a, b, c, ldc, flags, ep)
	default:
		kernelGo(k, a, b, c, ldc, flags, ep)
	}
}

// rows computes a tile with A read in place (see kernel).
func (kern *kernel) rows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	switch kern.id {
	case idAVX512:
		kernelAVX512Rows(k, a, lda, b, c, ldc, flags, ep)
	case idAVX512x8:
		kernelAVX512x8Rows(k, a, lda, b, c, ldc, flags, ep)
	case idAVX512x4:
		kernelAVX512x4Rows(k, a, lda, b, c, ldc, flags, ep)
	case idAVX2:
		kernelAVX2Rows(k, a, lda, b, c, ldc, flags, ep)
	default:
		kernelGoRows(k, a, lda, b, c, ldc, flags, ep)
	}
}

// epArgs returns the scale and bias pointers the assembly reads (nr values each) when flags
// asks for the epilogue, after checking they are there.
func epArgs(nr, flags int, ep *Epilogue) (scale, bias *float32) {
	if flags&flagEpilogue == 0 {
		return nil, nil
	}
	_, _ = ep.scale[nr-1], ep.bias[nr-1]
	return &ep.scale[0], &ep.bias[0]
}

// The wrappers check the bounds the assembly relies on, then call it.

func kernelAVX2(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = 6, 16
	_, _, _ = a[k*mr-1], b[k*nr-1], c[(mr-1)*ldc+nr-1]
	scale, bias := epArgs(nr, flags, ep)
	kernel6x16(k, &a[0], &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}

func kernelAVX2Rows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = 6, 16
	_, _, _ = a[(mr-1)*lda+k-1], b[k*nr-1], c[(mr-1)*ldc+nr-1]
	scale, bias := epArgs(nr, flags, ep)
	kernel6x16Rows(k, &a[0], lda, &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}

func kernelAVX512(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = 12, 32
	_, _, _ = a[k*mr-1], b[k*nr-1], c[(mr-1)*ldc+nr-1]
	scale, bias := epArgs(nr, flags, ep)
	kernel12x32(k, &a[0], &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}

func kernelAVX512Rows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = 12, 32
	_, _, _ = a[(mr-1)*lda+k-1], b[k*nr-1], c[(mr-1)*ldc+nr-1]
	scale, bias := epArgs(nr, flags, ep)
	kernel12x32Rows(k, &a[0], lda, &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}

func kernelAVX512x8(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = 8, 32
	_, _, _ = a[k*mr-1], b[k*nr-1], c[(mr-1)*ldc+nr-1]
	scale, bias := epArgs(nr, flags, ep)
	kernel8x32(k, &a[0], &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}

func kernelAVX512x8Rows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = 8, 32
	_, _, _ = a[(mr-1)*lda+k-1], b[k*nr-1], c[(mr-1)*ldc+nr-1]
	scale, bias := epArgs(nr, flags, ep)
	kernel8x32Rows(k, &a[0], lda, &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}

func kernelAVX512x4(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = 4, 32
	_, _, _ = a[k*mr-1], b[k*nr-1], c[(mr-1)*ldc+nr-1]
	scale, bias := epArgs(nr, flags, ep)
	kernel4x32(k, &a[0], &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}

func kernelAVX512x4Rows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = 4, 32
	_, _, _ = a[(mr-1)*lda+k-1], b[k*nr-1], c[(mr-1)*ldc+nr-1]
	scale, bias := epArgs(nr, flags, ep)
	kernel4x32Rows(k, &a[0], lda, &b[0], &c[0], ldc, flags, scale, bias, ep.alpha, ep.hi)
}
