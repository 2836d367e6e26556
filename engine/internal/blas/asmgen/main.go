// Command asmgen generates the assembly microkernels of package blas with avo
// (github.com/mmcloughlin/avo), so that the assembly is written as Go with register allocation
// and frame layouts checked, rather than by hand. Run it through `go generate ./internal/blas`.
//
// Two kernels, each in a packed-A and an in-place-A ("Rows") variant:
//   - kernel6x16: AVX2+FMA, a 6×16 C tile in 12 YMM accumulators;
//   - kernel12x32: AVX-512F, a 12×32 C tile in 24 ZMM accumulators; kernel8x32 and kernel4x32
//     are the same for the last rows of A when fewer than 12 are left (same B layout).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/facecluster/facecluster/internal/asmgen"
)

func main() {
	asmgen.Main(func() {
		avx2Kernel(false)
		avx2Kernel(true)
		for _, mr := range []int{12, 8, 4} {
			avx512Kernel(mr, false)
			avx512Kernel(mr, true)
		}
	})
}

// aAddr returns, for A read in place (rows lda bytes apart), the base registers and addressing
// of rows 0..mr-1: a base register every three rows, rows in between by lda×1 and lda×2.
type aAddr struct {
	packed bool
	mr     int
	a      Register   // packed: the panel; rows: row 0
	lda    Register   // rows: the row stride in bytes
	bases  []Register // rows: rows 0, 3, 6, …
}

func newAAddr(mr int, rows bool) *aAddr {
	x := &aAddr{packed: !rows, mr: mr}
	x.a = Load(Param("a"), GP64())
	if !rows {
		return x
	}
	x.lda = Load(Param("lda"), GP64())
	SHLQ(U8(2), x.lda)
	x.bases = []Register{x.a}
	for r := 3; r < mr; r += 3 {
		b := GP64()
		LEAQ(Mem{Base: x.bases[len(x.bases)-1], Index: x.lda, Scale: 2}, b)
		ADDQ(x.lda, b)
		x.bases = append(x.bases, b)
	}
	return x
}

// at addresses row r of A at k step u of the unrolled loop.
func (x *aAddr) at(u, r int) Mem {
	if x.packed {
		return Mem{Base: x.a, Disp: (u*x.mr + r) * 4}
	}
	base := x.bases[r/3]
	if r%3 == 0 {
		return Mem{Base: base, Disp: u * 4}
	}
	return Mem{Base: base, Index: x.lda, Scale: uint8(r % 3), Disp: u * 4}
}

func (x *aAddr) advance(steps int) {
	if x.packed {
		ADDQ(U32(steps*x.mr*4), x.a)
		return
	}
	for _, b := range x.bases {
		ADDQ(U32(steps*4), b)
	}
}

const unroll = 4 // k steps per loop iteration

// kLoop emits the k loop around step (one k step at unrolled offset u) and leaves k zero.
func kLoop(k Register, x *aAddr, b Register, bStep int, step func(u int)) {
	Label("loop")
	CMPQ(k, U8(unroll))
	JL(LabelRef("tail"))
	for u := 0; u < unroll; u++ {
		step(u)
	}
	x.advance(unroll)
	ADDQ(U32(unroll*bStep), b)
	SUBQ(U8(unroll), k)
	JMP(LabelRef("loop"))

	Label("tail")
	TESTQ(k, k)
	JE(LabelRef("accumulate"))
	step(0)
	x.advance(1)
	ADDQ(U32(bStep), b)
	DECQ(k)
	JMP(LabelRef("tail"))
}

// header declares the kernel function name (mr×nr, with or without Rows).
func header(name string, mr, nr int, rows bool, isa string) {
	if rows {
		TEXT(name+"Rows", NOSPLIT, "func(k int, a *float32, lda int, b, c *float32, ldc int, flags int, scale, bias *float32, alpha, hi float32)")
		Pragma("noescape")
		Doc(fmt.Sprintf("%sRows is %s with A read as %d rows lda floats apart instead of packed.", name, name, mr))
		return
	}
	TEXT(name, NOSPLIT, "func(k int, a, b, c *float32, ldc int, flags int, scale, bias *float32, alpha, hi float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes the %d×%d C tile at c (row stride ldc floats) from a packed %d×k A panel and a packed k×%d B panel (%s); flags: 1 accumulate into C, 2 apply the epilogue.", name, mr, nr, mr, nr, isa))
}

// avx2Kernel emits kernel6x16: the 6×16 C tile at c gets A·B over k steps, where A is packed as
// k groups of 6 row values and B as k rows of 16 values. Twelve accumulators live in Y0–Y11 for
// the whole loop; Y12–Y13 hold the B row and Y14–Y15 alternate as broadcast A values.
// flags bit 0: add the tile's previous contents (else overwrite); bit 1: apply the epilogue
// x = x·scale[j] + bias[j]; x = max(x, alpha·x); x = min(x, hi) with 16 scale/bias values.
//
// With rows, A is instead read in place: six rows lda floats apart (no packing), which saves
// the packing pass when B is small enough to be streamed from L2 for every six rows.
func avx2Kernel(rows bool) {
	const mr, nr = 6, 16
	header("kernel6x16", mr, nr, rows, "AVX2+FMA")
	k := Load(Param("k"), GP64())
	x := newAAddr(mr, rows)
	b := Load(Param("b"), GP64())

	acc := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11}
	for _, r := range acc {
		VXORPS(r, r, r)
	}
	bcast := []VecPhysical{Y14, Y15}
	kLoop(k, x, b, nr*4, func(u int) {
		VMOVUPS(Mem{Base: b, Disp: u * nr * 4}, Y12)
		VMOVUPS(Mem{Base: b, Disp: u*nr*4 + 32}, Y13)
		for r := 0; r < mr; r++ {
			v := bcast[r%2]
			VBROADCASTSS(x.at(u, r), v)
			VFMADD231PS(Y12, v, acc[2*r])
			VFMADD231PS(Y13, v, acc[2*r+1])
		}
	})

	Label("accumulate")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flags := Load(Param("flags"), GP64())
	row := GP64()
	TESTQ(U32(1), flags)
	JE(LabelRef("epilogue"))
	MOVQ(c, row)
	for r := 0; r < mr; r++ {
		VADDPS(Mem{Base: row}, acc[2*r], acc[2*r])
		VADDPS(Mem{Base: row, Disp: 32}, acc[2*r+1], acc[2*r+1])
		if r < mr-1 {
			ADDQ(ldc, row)
		}
	}

	Label("epilogue")
	TESTQ(U32(2), flags)
	JE(LabelRef("store"))
	scale := Load(Param("scale"), GP64())
	bias := Load(Param("bias"), GP64())
	VMOVUPS(Mem{Base: scale}, Y12)
	VMOVUPS(Mem{Base: scale, Disp: 32}, Y13)
	VMOVUPS(Mem{Base: bias}, Y14)
	VMOVUPS(Mem{Base: bias, Disp: 32}, Y15)
	for r := 0; r < mr; r++ {
		VFMADD213PS(Y14, Y12, acc[2*r])
		VFMADD213PS(Y15, Y13, acc[2*r+1])
	}
	VBROADCASTSS(asmgen.ParamAddr(Param("alpha")), Y12)
	VBROADCASTSS(asmgen.ParamAddr(Param("hi")), Y13)
	for _, v := range acc {
		VMULPS(v, Y12, Y14)
		VMAXPS(Y14, v, v)
		VMINPS(Y13, v, v)
	}

	Label("store")
	for r := 0; r < mr; r++ {
		VMOVUPS(acc[2*r], Mem{Base: c})
		VMOVUPS(acc[2*r+1], Mem{Base: c, Disp: 32})
		if r < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// avx512Kernel emits kernel<mr>x32: the mr×32 C tile at c gets A·B over k steps, A packed as
// k groups of mr row values (or, with rows, read in place), B as k rows of 32 values. The 2·mr
// (≤ 24) accumulators live in Z0… for the whole loop, Z30–Z31 hold the B row and Z28–Z29
// alternate as broadcast A values. Flags and epilogue as in kernel6x16, with 32 scale/bias values.
//
// Measured on Zen 5 (see docs/benchmarks.md, "Kernels"): 12 rows beat 8 and 14 (14 leaves no
// register to broadcast into; 8 reuses each B row less), and broadcasting each A value into a
// register for its two FMAs ran 10–20 % faster than the FMAs' own embedded broadcast
// (VFMADD231PS.BCST, one broadcast load per FMA). The 8- and 4-row kernels only take the last
// rows of A, so that 16 rows cost 12 + 4 rather than two 12-row tiles.
func avx512Kernel(mr int, rows bool) {
	const nr = 32
	header(fmt.Sprintf("kernel%dx%d", mr, nr), mr, nr, rows, "AVX-512F")
	k := Load(Param("k"), GP64())
	x := newAAddr(mr, rows)
	b := Load(Param("b"), GP64())

	zmm := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
	acc := zmm[:2*mr]
	bcast := zmm[28:30]
	b0, b1 := zmm[30], zmm[31]
	for _, r := range acc {
		VPXORD(r, r, r) // VXORPS on ZMM would need AVX512DQ
	}
	kLoop(k, x, b, nr*4, func(u int) {
		VMOVUPS(Mem{Base: b, Disp: u * nr * 4}, b0)
		VMOVUPS(Mem{Base: b, Disp: u*nr*4 + 64}, b1)
		for r := 0; r < mr; r++ {
			v := bcast[r%2]
			VBROADCASTSS(x.at(u, r), v)
			VFMADD231PS(b0, v, acc[2*r])
			VFMADD231PS(b1, v, acc[2*r+1])
		}
	})

	Label("accumulate")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flags := Load(Param("flags"), GP64())
	row := GP64()
	TESTQ(U32(1), flags)
	JE(LabelRef("epilogue"))
	MOVQ(c, row)
	for r := 0; r < mr; r++ {
		VADDPS(Mem{Base: row}, acc[2*r], acc[2*r])
		VADDPS(Mem{Base: row, Disp: 64}, acc[2*r+1], acc[2*r+1])
		if r < mr-1 {
			ADDQ(ldc, row)
		}
	}

	Label("epilogue")
	TESTQ(U32(2), flags)
	JE(LabelRef("store"))
	scale := Load(Param("scale"), GP64())
	bias := Load(Param("bias"), GP64())
	s0, s1, alpha, t := zmm[28], zmm[29], zmm[30], zmm[31] // free after the loop
	VMOVUPS(Mem{Base: scale}, s0)
	VMOVUPS(Mem{Base: scale, Disp: 64}, s1)
	for r := 0; r < mr; r++ {
		VFMADD213PS(Mem{Base: bias}, s0, acc[2*r])
		VFMADD213PS(Mem{Base: bias, Disp: 64}, s1, acc[2*r+1])
	}
	VBROADCASTSS(asmgen.ParamAddr(Param("alpha")), alpha)
	for _, v := range acc {
		VMULPS(v, alpha, t)
		VMAXPS(t, v, v)
		VMINPS_BCST(asmgen.ParamAddr(Param("hi")), v, v)
	}

	Label("store")
	for r := 0; r < mr; r++ {
		VMOVUPS(acc[2*r], Mem{Base: c})
		VMOVUPS(acc[2*r+1], Mem{Base: c, Disp: 64})
		if r < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}
