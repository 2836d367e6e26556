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
	depthwise3x3Pixels()
	elementwise("addVec", true, false)
	elementwise("reluVec", false, true)
	elementwise("addReLUVec", true, true)
	maxPool("maxPool2Pixels", 2)
	maxPool("maxPool3Pixels", 3)
	winogradTransforms()
	Generate()
}

// depthwise3x3Pixels emits dw3x3Pixels: n output pixels of one row of a 3×3 depthwise
// convolution over input rows in0..in2 (pointing at the first tap of the first pixel; pixels
// stride input pixels apart), all C channels of a pixel in turn in 8-channel slices.
// Channels innermost keeps memory access sequential: measured 1.1–2× faster than a
// slice-by-slice pass over the row, whose pixel-to-pixel stride of C floats (KiBs for 512+
// channels) defeats the TLB and the L1 sets. Pixels go in pairs that share each filter load;
// each pixel sums its nine taps in three registers.
// w holds, per 8-channel slice, the nine taps then the scale and the bias (11 × 8 floats);
// act holds 8 × alpha then 8 × hi; the epilogue is x = min(max(x·scale+bias, alpha·(…)), hi).
// C must be a multiple of 8.
func depthwise3x3Pixels() {
	TEXT("dw3x3Pixels", NOSPLIT, "func(out, in0, in1, in2, w *float32, n, c, stride int, act *[16]float32)")
	Pragma("noescape")
	Doc("dw3x3Pixels computes all channels of n output pixels of a 3×3 depthwise convolution row, channels innermost, with its fused epilogue (see asmgen).")
	act := Load(Param("act"), GP64())
	alpha, hi := YMM(), YMM()
	VMOVUPS(Mem{Base: act}, alpha)
	VMOVUPS(Mem{Base: act, Disp: 32}, hi)
	out := Load(Param("out"), GP64())
	in := []Register{Load(Param("in0"), GP64()), Load(Param("in1"), GP64()), Load(Param("in2"), GP64())}
	w := Load(Param("w"), GP64())
	n := Load(Param("n"), GP64())
	cb := Load(Param("c"), GP64())
	SHLQ(U8(2), cb) // bytes per pixel (and between taps)
	pstep := Load(Param("stride"), GP64())
	IMULQ(cb, pstep) // bytes between consecutive output pixels' inputs
	p1, p2 := GP64(), GP64()
	LEAQ(Mem{Base: pstep, Index: cb, Scale: 1}, p1) // second pixel, tap column 1
	LEAQ(Mem{Base: pstep, Index: cb, Scale: 2}, p2) // second pixel, tap column 2
	wlen := GP64()
	IMUL3Q(U8(11), cb, wlen) // bytes of w: C/8 slices × 11 vectors × 32 bytes = 11·C·4
	chunk := GP64()

	// pixels emits the slice loop for one or two pixels, then advances to the next pixels.
	pixels := func(two bool, label string) {
		MOVQ(cb, chunk)
		Label(label)
		np := 1
		if two {
			np = 2
		}
		acc := make([][]VecVirtual, np)
		for p := range acc {
			acc[p] = []VecVirtual{YMM(), YMM(), YMM()}
		}
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				tap := YMM()
				VMOVUPS(Mem{Base: w, Disp: 32 * (ky*3 + kx)}, tap)
				for p := 0; p < np; p++ {
					var src Mem
					switch {
					case p == 0 && kx == 0:
						src = Mem{Base: in[ky]}
					case p == 0:
						src = Mem{Base: in[ky], Index: cb, Scale: uint8(kx)}
					default:
						src = Mem{Base: in[ky], Index: []Register{pstep, p1, p2}[kx], Scale: 1}
					}
					if kx == 0 {
						VMULPS(src, tap, acc[p][ky])
					} else {
						VFMADD231PS(src, tap, acc[p][ky])
					}
				}
			}
		}
		sc := YMM()
		VMOVUPS(Mem{Base: w, Disp: 32 * 9}, sc)
		for p := 0; p < np; p++ {
			a := acc[p][0]
			VADDPS(acc[p][1], a, a)
			VADDPS(acc[p][2], a, a)
			VFMADD213PS(Mem{Base: w, Disp: 32 * 10}, sc, a)
			t := YMM()
			VMULPS(a, alpha, t)
			VMAXPS(t, a, a)
			VMINPS(hi, a, a)
			if p == 0 {
				VMOVUPS(a, Mem{Base: out})
			} else {
				VMOVUPS(a, Mem{Base: out, Index: cb, Scale: 1})
			}
		}
		for _, r := range []Register{out, in[0], in[1], in[2]} {
			ADDQ(U8(32), r)
		}
		ADDQ(U32(32*11), w)
		SUBQ(U8(32), chunk)
		JNE(LabelRef(label))
		// Next pixels: weights back to the first slice; inputs on by np pixels (minus the C
		// floats already walked); out on past the second pixel's channels.
		SUBQ(wlen, w)
		for _, r := range in {
			SUBQ(cb, r)
			for range np {
				ADDQ(pstep, r)
			}
		}
		if two {
			ADDQ(cb, out)
		}
	}

	Label("pair")
	CMPQ(n, U8(2))
	JL(LabelRef("single"))
	pixels(true, "pairslices")
	SUBQ(U8(2), n)
	JMP(LabelRef("pair"))
	Label("single")
	TESTQ(n, n)
	JE(LabelRef("done"))
	pixels(false, "singleslices")
	Label("done")
	VZEROUPPER()
	RET()
}

// elementwise emits name(dst, a, b *float32, n int): dst = a (+ b if add) (then max(·, 0) if
// relu) over n floats, n a multiple of 8 (the caller does the tail), 32 floats per iteration.
func elementwise(name string, add, relu bool) {
	TEXT(name, NOSPLIT, "func(dst, a, b *float32, n int)")
	Pragma("noescape")
	what := map[[2]bool]string{{true, false}: "a+b", {false, true}: "max(a, 0)", {true, true}: "max(a+b, 0)"}[[2]bool{add, relu}]
	Doc(name + " writes " + what + " to dst for n floats (n a multiple of 8).")
	dst := Load(Param("dst"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	n := Load(Param("n"), GP64())
	zero := YMM()
	VXORPS(zero, zero, zero)
	body := func(vectors int, label, next string) {
		Label(label)
		CMPQ(n, U8(8*vectors))
		JL(LabelRef(next))
		for v := 0; v < vectors; v++ {
			x := YMM()
			VMOVUPS(Mem{Base: a, Disp: 32 * v}, x)
			if add {
				VADDPS(Mem{Base: b, Disp: 32 * v}, x, x)
			}
			if relu {
				VMAXPS(zero, x, x)
			}
			VMOVUPS(x, Mem{Base: dst, Disp: 32 * v})
		}
		for _, r := range []Register{dst, a, b} {
			ADDQ(U32(32*vectors), r)
		}
		SUBQ(U8(8*vectors), n)
		JMP(LabelRef(label))
	}
	body(4, "by32", "by8")
	body(1, "by8", "done")
	Label("done")
	VZEROUPPER()
	RET()
}

// maxPool emits name(out, in0, in1, in2 *float32, n, c, stride int): n output pixels of a k×k
// max pool whose windows lie inside the input, the k input rows at in0.. (in2 unused for k = 2)
// pointing at the first window's top-left pixel; windows stride pixels apart; all C channels of
// a pixel in turn, 8 at a time. C must be a multiple of 8.
func maxPool(name string, k int) {
	TEXT(name, NOSPLIT, "func(out, in0, in1, in2 *float32, n, c, stride int)")
	Pragma("noescape")
	Doc(name + " computes n output pixels of a " + []string{"", "", "2×2", "3×3"}[k] + " max pool over in-bounds windows (see asmgen).")
	out := Load(Param("out"), GP64())
	in := []Register{Load(Param("in0"), GP64()), Load(Param("in1"), GP64())}
	if k == 3 {
		in = append(in, Load(Param("in2"), GP64()))
	}
	n := Load(Param("n"), GP64())
	cb := Load(Param("c"), GP64())
	SHLQ(U8(2), cb)
	step := Load(Param("stride"), GP64())
	DECQ(step)
	IMULQ(cb, step) // after a pixel's channels, inputs advance (stride-1)·C more
	chunk := GP64()
	Label("pixel")
	TESTQ(n, n)
	JE(LabelRef("done"))
	MOVQ(cb, chunk)
	Label("chunk")
	acc := YMM()
	VMOVUPS(Mem{Base: in[0]}, acc)
	for ky := 0; ky < k; ky++ {
		for kx := 0; kx < k; kx++ {
			if ky == 0 && kx == 0 {
				continue
			}
			m := Mem{Base: in[ky]}
			if kx > 0 {
				m = Mem{Base: in[ky], Index: cb, Scale: uint8(kx)}
			}
			VMAXPS(m, acc, acc)
		}
	}
	VMOVUPS(acc, Mem{Base: out})
	ADDQ(U8(32), out)
	for _, r := range in {
		ADDQ(U8(32), r)
	}
	SUBQ(U8(32), chunk)
	JNE(LabelRef("chunk"))
	for _, r := range in {
		ADDQ(step, r)
	}
	DECQ(n)
	JMP(LabelRef("pixel"))
	Label("done")
	VZEROUPPER()
	RET()
}

// winogradTransforms emits the vector loops of the Winograd F(2×2,3×3) tile transforms
// (../winograd.go): each applies a 4-point transform to whole channel vectors, 8 floats at a
// time (n a multiple of 8; the caller does the tail).
func winogradTransforms() {
	loop := func(n Register, body func(idx Register)) {
		idx := GP64()
		XORQ(idx, idx)
		SHLQ(U8(2), n) // bytes
		Label("loop")
		body(idx)
		ADDQ(U8(32), idx)
		CMPQ(idx, n)
		JL(LabelRef("loop"))
		VZEROUPPER()
		RET()
	}
	at := func(p Register, idx Register) Mem { return Mem{Base: p, Index: idx, Scale: 1} }
	loads := func(names ...string) []Register {
		var r []Register
		for _, n := range names {
			r = append(r, Load(Param(n), GP64()))
		}
		return r
	}

	TEXT("winoBT4", NOSPLIT, "func(o0, o1, o2, o3, i0, i1, i2, i3 *float32, n int)")
	Pragma("noescape")
	Doc("winoBT4 writes (i0−i2, i1+i2, i2−i1, i1−i3) to o0..o3 for n floats (n a multiple of 8).")
	o := loads("o0", "o1", "o2", "o3")
	in := loads("i0", "i1", "i2", "i3")
	n := Load(Param("n"), GP64())
	loop(n, func(idx Register) {
		a, b, e, f := YMM(), YMM(), YMM(), YMM()
		VMOVUPS(at(in[0], idx), a)
		VMOVUPS(at(in[1], idx), b)
		VMOVUPS(at(in[2], idx), e)
		VMOVUPS(at(in[3], idx), f)
		r := YMM()
		VSUBPS(e, a, r) // a − e
		VMOVUPS(r, at(o[0], idx))
		r = YMM()
		VADDPS(e, b, r)
		VMOVUPS(r, at(o[1], idx))
		r = YMM()
		VSUBPS(b, e, r) // e − b
		VMOVUPS(r, at(o[2], idx))
		r = YMM()
		VSUBPS(f, b, r) // b − f
		VMOVUPS(r, at(o[3], idx))
	})

	// at4 computes (i0+i1+i2, i1−i2−i3) into two fresh registers.
	at4 := func(in []Register, idx Register) (VecVirtual, VecVirtual) {
		a, b, e, f := YMM(), YMM(), YMM(), YMM()
		VMOVUPS(at(in[0], idx), a)
		VMOVUPS(at(in[1], idx), b)
		VMOVUPS(at(in[2], idx), e)
		VMOVUPS(at(in[3], idx), f)
		y0, y1 := YMM(), YMM()
		VADDPS(b, a, y0)
		VADDPS(e, y0, y0)
		VSUBPS(e, b, y1)
		VSUBPS(f, y1, y1)
		return y0, y1
	}

	TEXT("winoAT4", NOSPLIT, "func(o0, o1, i0, i1, i2, i3 *float32, n int)")
	Pragma("noescape")
	Doc("winoAT4 writes (i0+i1+i2, i1−i2−i3) to o0, o1 for n floats (n a multiple of 8).")
	o = loads("o0", "o1")
	in = loads("i0", "i1", "i2", "i3")
	n = Load(Param("n"), GP64())
	loop(n, func(idx Register) {
		y0, y1 := at4(in, idx)
		VMOVUPS(y0, at(o[0], idx))
		VMOVUPS(y1, at(o[1], idx))
	})

	TEXT("winoAT4Epilogue", NOSPLIT, "func(o0, o1, i0, i1, i2, i3, scale, bias *float32, n int, act *[16]float32)")
	Pragma("noescape")
	Doc("winoAT4Epilogue is winoAT4 followed by x = min(max(x·scale+bias, alpha·(…)), hi); act holds 8 × alpha then 8 × hi.")
	o = loads("o0", "o1")
	in = loads("i0", "i1", "i2", "i3")
	sb := loads("scale", "bias")
	n = Load(Param("n"), GP64())
	act := Load(Param("act"), GP64())
	alpha, hi := YMM(), YMM()
	VMOVUPS(Mem{Base: act}, alpha)
	VMOVUPS(Mem{Base: act, Disp: 32}, hi)
	loop(n, func(idx Register) {
		y0, y1 := at4(in, idx)
		sc, bi := YMM(), YMM()
		VMOVUPS(at(sb[0], idx), sc)
		VMOVUPS(at(sb[1], idx), bi)
		for i, y := range []VecVirtual{y0, y1} {
			VFMADD213PS(bi, sc, y) // y·scale + bias
			t := YMM()
			VMULPS(y, alpha, t)
			VMAXPS(t, y, y)
			VMINPS(hi, y, y)
			VMOVUPS(y, at(o[i], idx))
		}
	})
}
