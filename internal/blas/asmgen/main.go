// Command asmgen generates the AVX2+FMA assembly of package blas with avo
// (github.com/mmcloughlin/avo), so that the assembly is written as Go with register allocation
// and frame layouts checked, rather than by hand. Run it through `go generate ./internal/blas`.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const (
	mr = 6  // rows of the C tile (broadcast A values)
	nr = 16 // columns of the C tile (two 8-float vectors)
)

// addr is the frame address of a scalar parameter (for instructions that read memory directly).
func addr(c gotypes.Component) Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

func main() {
	ConstraintExpr("amd64,!purego")
	kernel(false)
	kernel(true)
	Generate()
}

// kernel emits kernel6x16: the 6×16 C tile at c gets A·B over k steps, where A is packed as k
// groups of 6 row values and B as k rows of 16 values. Twelve accumulators live in Y0–Y11 for
// the whole loop; Y12–Y13 hold the B row and Y14–Y15 alternate as broadcast A values.
// flags bit 0: add the tile's previous contents (else overwrite); bit 1: apply the epilogue
// x = x·scale[j] + bias[j]; x = max(x, alpha·x); x = min(x, hi) with 16 scale/bias values.
//
// With rows, A is instead read in place: six rows lda floats apart (no packing), which saves
// the packing pass when B is small enough to be streamed from L2 for every six rows.
func kernel(rows bool) {
	if rows {
		TEXT("kernel6x16Rows", NOSPLIT, "func(k int, a *float32, lda int, b, c *float32, ldc int, flags int, scale, bias *float32, alpha, hi float32)")
		Pragma("noescape")
		Doc(fmt.Sprintf("kernel6x16Rows is kernel6x16 with A read as %d rows lda floats apart instead of packed.", mr))
	} else {
		TEXT("kernel6x16", NOSPLIT, "func(k int, a, b, c *float32, ldc int, flags int, scale, bias *float32, alpha, hi float32)")
		Pragma("noescape")
		Doc(fmt.Sprintf("kernel6x16 computes the %d×%d C tile at c (row stride ldc floats) from a packed %d×k A panel and a packed k×%d B panel; flags: 1 accumulate into C, 2 apply the epilogue.", mr, nr, mr, nr))
	}
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	var lda, a3 Register
	if rows {
		lda = Load(Param("lda"), GP64())
		SHLQ(U8(2), lda)
		a3 = GP64()
		LEAQ(Mem{Base: a, Index: lda, Scale: 2}, a3)
		ADDQ(lda, a3)
	}
	// aAt addresses row r of A at k step u of the unrolled loop.
	aAt := func(u, r int) Mem {
		if !rows {
			return Mem{Base: a, Disp: (u*mr + r) * 4}
		}
		base := a
		if r >= 3 {
			base = a3
		}
		if r%3 == 0 {
			return Mem{Base: base, Disp: u * 4}
		}
		return Mem{Base: base, Index: lda, Scale: uint8(r % 3), Disp: u * 4}
	}
	advanceA := func(steps int) {
		if !rows {
			ADDQ(U32(steps*mr*4), a)
			return
		}
		ADDQ(U32(steps*4), a)
		ADDQ(U32(steps*4), a3)
	}

	acc := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11}
	for _, r := range acc {
		VXORPS(r, r, r)
	}
	bcast := []VecPhysical{Y14, Y15}
	step := func(u int) {
		VMOVUPS(Mem{Base: b, Disp: u * nr * 4}, Y12)
		VMOVUPS(Mem{Base: b, Disp: u*nr*4 + 32}, Y13)
		for r := 0; r < mr; r++ {
			x := bcast[r%2]
			VBROADCASTSS(aAt(u, r), x)
			VFMADD231PS(Y12, x, acc[2*r])
			VFMADD231PS(Y13, x, acc[2*r+1])
		}
	}

	const unroll = 4
	Label("loop")
	CMPQ(k, U8(unroll))
	JL(LabelRef("tail"))
	for u := 0; u < unroll; u++ {
		step(u)
	}
	advanceA(unroll)
	ADDQ(U32(unroll*nr*4), b)
	SUBQ(U8(unroll), k)
	JMP(LabelRef("loop"))

	Label("tail")
	TESTQ(k, k)
	JE(LabelRef("accumulate"))
	step(0)
	advanceA(1)
	ADDQ(U32(nr*4), b)
	DECQ(k)
	JMP(LabelRef("tail"))

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
	VBROADCASTSS(addr(Param("alpha")), Y12)
	VBROADCASTSS(addr(Param("hi")), Y13)
	for _, x := range acc {
		VMULPS(x, Y12, Y14)
		VMAXPS(Y14, x, x)
		VMINPS(Y13, x, x)
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
