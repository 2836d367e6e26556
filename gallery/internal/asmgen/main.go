// Command asmgen generates the AVX2 assembly of package gallery (the int8 distance scan) with
// avo (github.com/mmcloughlin/avo). Run it through `go generate ./gallery`.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/facecluster/facecluster/internal/asmgen"
)

func main() { asmgen.Main(sqDistInt8) }

// sqDistInt8 emits sqDistsInt8: out[j] = Σ_i (q[i] − x_j[i])² over 128 dimensions for n
// vectors of 128 int8 values stored back to back. The query, widened to int16, stays in Y0–Y7;
// each 16-value slice of a vector is sign-extended, subtracted, and squared-and-pair-summed with
// VPMADDWD into int32 (at most 2·254² per lane, far from overflow).
func sqDistInt8() {
	TEXT("sqDistsInt8", NOSPLIT, "func(q *[128]int16, x *int8, n int, out *int32)")
	Pragma("noescape")
	Doc("sqDistsInt8 writes the squared Euclidean distance between the int16-widened query q and each of n int8 vectors of 128 values at x to out.")
	qp := Load(Param("q"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	qv := []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7}
	for i, r := range qv {
		VMOVDQU(Mem{Base: qp, Disp: 32 * i}, r)
	}
	acc := []VecPhysical{Y8, Y9}
	tmp := []VecPhysical{Y10, Y11, Y12, Y13}
	Label("vector")
	TESTQ(n, n)
	JE(LabelRef("done"))
	for c := 0; c < 8; c++ {
		t := tmp[c%4]
		VPMOVSXBW(Mem{Base: x, Disp: 16 * c}, t)
		VPSUBW(qv[c], t, t)
		VPMADDWD(t, t, t)
		if c < 2 {
			VMOVDQA(t, acc[c])
		} else {
			VPADDD(t, acc[c%2], acc[c%2])
		}
	}
	VPADDD(acc[1], acc[0], acc[0])
	VEXTRACTI128(U8(1), acc[0], X10)
	VPADDD(X10, acc[0].AsX(), X8)
	VPSHUFD(U8(0x4e), X8, X10)
	VPADDD(X10, X8, X8)
	VPSHUFD(U8(0xb1), X8, X10)
	VPADDD(X10, X8, X8)
	VMOVD(X8, Mem{Base: out})
	ADDQ(U8(128), x)
	ADDQ(U8(4), out)
	DECQ(n)
	JMP(LabelRef("vector"))
	Label("done")
	VZEROUPPER()
	RET()
}
