// Command asmgen generates the AVX2+FMA assembly of package blas with avo
// (github.com/mmcloughlin/avo), so that the assembly is written as Go with register allocation
// and frame layouts checked, rather than by hand. Run it through `go generate ./internal/blas`.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const (
	mr = 6  // rows of the C tile (broadcast A values)
	nr = 16 // columns of the C tile (two 8-float vectors)
)

func main() {
	ConstraintExpr("amd64,!purego")
	kernel()
	Generate()
}

// kernel emits kernel6x16: C[6×16] += A·B over k steps, where A is packed as k groups of 6
// row values and B as k rows of 16 values. Twelve accumulators live in Y0–Y11 for the whole
// loop; Y12–Y13 hold the B row and Y14–Y15 alternate as broadcast A values.
func kernel() {
	TEXT("kernel6x16", NOSPLIT, "func(k int, a, b, c *float32, ldc int)")
	Doc(fmt.Sprintf("kernel6x16 adds the product of a packed %d×k A panel and a packed k×%d B panel to the C tile at c (row stride ldc floats).", mr, nr))
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)

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
			VBROADCASTSS(Mem{Base: a, Disp: (u*mr + r) * 4}, x)
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
	ADDQ(U32(unroll*mr*4), a)
	ADDQ(U32(unroll*nr*4), b)
	SUBQ(U8(unroll), k)
	JMP(LabelRef("loop"))

	Label("tail")
	TESTQ(k, k)
	JE(LabelRef("store"))
	step(0)
	ADDQ(U32(mr*4), a)
	ADDQ(U32(nr*4), b)
	DECQ(k)
	JMP(LabelRef("tail"))

	Label("store")
	for r := 0; r < mr; r++ {
		VADDPS(Mem{Base: c}, acc[2*r], acc[2*r])
		VMOVUPS(acc[2*r], Mem{Base: c})
		VADDPS(Mem{Base: c, Disp: 32}, acc[2*r+1], acc[2*r+1])
		VMOVUPS(acc[2*r+1], Mem{Base: c, Disp: 32})
		if r < mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}
