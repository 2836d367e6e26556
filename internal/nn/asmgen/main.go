// Command asmgen generates the AVX2+FMA assembly of package nn (the depthwise convolution row
// kernel) with avo (github.com/mmcloughlin/avo). Run it through `go generate ./internal/nn`.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func addr(c gotypes.Component) Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

func main() {
	ConstraintExpr("amd64,!purego")
	depthwise3x3Row()
	Generate()
}

// depthwise3x3Row emits dw3x3Row: one 8-channel slice of n output pixels of one row of a 3×3
// depthwise convolution over an already padded input. in0..in2 point at the slice of the first
// tap of the first pixel in the three input rows; consecutive pixels are stride pixels apart and
// the taps of one pixel c channels apart. f points at the slice of the [3,3,c] filter and sb at
// its 8 scales followed (c floats later) by its 8 biases; act holds 8 × alpha then 8 × hi. The
// epilogue is x = min(max(x·scale+bias, alpha·(x·scale+bias)), hi). The nine filter vectors and
// the scale/bias stay in registers for the whole row.
func depthwise3x3Row() {
	TEXT("dw3x3Row", NOSPLIT, "func(out, in0, in1, in2, f, sb *float32, n, c, stride int, act *[16]float32)")
	Pragma("noescape")
	Doc("dw3x3Row computes one 8-channel slice of n output pixels of a 3×3 depthwise convolution row, with its fused epilogue (see asmgen).")
	cb := Load(Param("c"), GP64())
	SHLQ(U8(2), cb) // bytes between taps
	f := Load(Param("f"), GP64())
	w := make([]VecPhysical, 9)
	for i := range w {
		w[i] = []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8}[i]
		if i%3 == 0 && i > 0 {
			LEAQ(Mem{Base: f, Index: cb, Scale: 2}, f)
			ADDQ(cb, f)
		}
		m := Mem{Base: f}
		if i%3 > 0 {
			m = Mem{Base: f, Index: cb, Scale: uint8(i % 3)}
		}
		VMOVUPS(m, w[i])
	}
	sb := Load(Param("sb"), GP64())
	VMOVUPS(Mem{Base: sb}, Y9)
	VMOVUPS(Mem{Base: sb, Index: cb, Scale: 1}, Y10)
	act := Load(Param("act"), GP64())

	out := Load(Param("out"), GP64())
	in := []Register{Load(Param("in0"), GP64()), Load(Param("in1"), GP64()), Load(Param("in2"), GP64())}
	n := Load(Param("n"), GP64())
	step := Load(Param("stride"), GP64())
	IMULQ(cb, step) // bytes between consecutive pixels' first taps
	acc := []VecPhysical{Y11, Y12, Y13}
	Label("pixel")
	TESTQ(n, n)
	JE(LabelRef("done"))
	for ky := 0; ky < 3; ky++ {
		VMULPS(Mem{Base: in[ky]}, w[ky*3], acc[ky])
		VFMADD231PS(Mem{Base: in[ky], Index: cb, Scale: 1}, w[ky*3+1], acc[ky])
		VFMADD231PS(Mem{Base: in[ky], Index: cb, Scale: 2}, w[ky*3+2], acc[ky])
	}
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[2], acc[0], acc[0])
	VFMADD213PS(Y10, Y9, acc[0])
	VMULPS(Mem{Base: act}, acc[0], Y14)
	VMAXPS(Y14, acc[0], acc[0])
	VMINPS(Mem{Base: act, Disp: 32}, acc[0], acc[0])
	VMOVUPS(acc[0], Mem{Base: out})
	ADDQ(cb, out)
	for _, r := range in {
		ADDQ(step, r)
	}
	DECQ(n)
	JMP(LabelRef("pixel"))
	Label("done")
	VZEROUPPER()
	RET()
}
