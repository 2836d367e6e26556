// Command asmgen generates the assembly of package nn with avo (github.com/mmcloughlin/avo):
// AVX2+FMA kernels (this file) and their AVX-512 variants (avx512.go), which package nn picks
// at run time. Run it through `go generate ./internal/nn`.
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/facecluster/facecluster/internal/asmgen"
)

func main() {
	asmgen.Main(func() {
		depthwise3x3Pixels()
		elementwise("addVec", true, false)
		elementwise("reluVec", false, true)
		elementwise("addReLUVec", true, true)
		maxPool("maxPool2Pixels", 2)
		maxPool("maxPool3Pixels", 3)
		winogradTransforms()

		depthwise3x3Pixels512("dw3x3S1AVX512", 1)
		depthwise3x3Pixels512("dw3x3S2AVX512", 2)
		elementwise512("addVecAVX512", true, false)
		elementwise512("reluVecAVX512", false, true)
		elementwise512("addReLUVecAVX512", true, true)
		maxPool512("maxPool2PixelsAVX512", 2)
		maxPool512("maxPool3PixelsAVX512", 3)
		convSmallRow512()
		convSmallRow16x512()
		for _, t := range []struct {
			name string
			coef [][]float64
			ep   bool
		}{{"winoBT4", winoBT4, false}, {"winoAT2", winoAT2, false}, {"winoAT2Epilogue", winoAT2, true},
			{"winoBT6", winoBT6, false}, {"winoAT4", winoAT4, false}, {"winoAT4Epilogue", winoAT4, true}} {
			linearTransform512(t.name+"AVX512", t.coef, t.ep)
		}
	})
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

// Winograd transform matrices (Lavin & Gray 2016), as in ../winograd.go.
var (
	winoBT4 = [][]float64{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	winoAT2 = [][]float64{{1, 1, 1, 0}, {0, 1, -1, -1}}
	winoBT6 = [][]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	winoAT4 = [][]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
)

// winogradTransforms emits the vector loops of the Winograd tile transforms (../winograd.go).
func winogradTransforms() {
	linearTransform("winoBT4", winoBT4, false)
	linearTransform("winoAT2", winoAT2, false)
	linearTransform("winoAT2Epilogue", winoAT2, true)
	linearTransform("winoBT6", winoBT6, false)
	linearTransform("winoAT4", winoAT4, false)
	linearTransform("winoAT4Epilogue", winoAT4, true)
}

// linearTransform emits name(out *float32, os int, in *float32, is int, n int[, scale, bias
// *float32, act *[16]float32]): for every channel x < n (n a multiple of 8, the caller does the
// tail), out[r·os + x] = Σ_c coef[r][c]·in[c·is + x] for r, c < 6; with ep, each result then
// becomes min(max(y·scale[x]+bias[x], alpha·(…)), hi) (act: 8 × alpha then 8 × hi).
// Coefficients ±1 are additions; the others are broadcast once and multiplied in with FMA.
func linearTransform(name string, coef [][]float64, ep bool) {
	sig := "func(out *float32, os int, in *float32, is int, n int)"
	if ep {
		sig = "func(out *float32, os int, in *float32, is int, n int, scale, bias *float32, act *[16]float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	what := fmt.Sprintf("applies the %d×%d Winograd transform %v", len(coef), len(coef[0]), coef)
	if ep {
		what += " and the epilogue"
	}
	Doc(name + " " + what + " to n channels (see asmgen).")
	out := Load(Param("out"), GP64())
	os := Load(Param("os"), GP64())
	in := Load(Param("in"), GP64())
	is := Load(Param("is"), GP64())
	n := Load(Param("n"), GP64())
	SHLQ(U8(2), os)
	SHLQ(U8(2), is)
	in3, out3 := GP64(), GP64()
	LEAQ(Mem{Base: in, Index: is, Scale: 2}, in3)
	ADDQ(is, in3)
	LEAQ(Mem{Base: out, Index: os, Scale: 2}, out3)
	ADDQ(os, out3)
	// vector c (or row r) is at base + k·stride, base = in or in3, k < 3.
	at := func(base, base3, stride Register, c int) Mem {
		b := base
		if c >= 3 {
			b, c = base3, c-3
		}
		if c == 0 {
			return Mem{Base: b}
		}
		return Mem{Base: b, Index: stride, Scale: uint8(c)}
	}
	consts := map[float64]VecVirtual{}
	for _, row := range coef {
		for _, v := range row {
			if _, ok := consts[v]; !ok && v != 0 && v != 1 && v != -1 {
				r := YMM()
				// The bits, not F32: avo prints integral floats as integers ($(4)), which the
				// assembler would store as the integer 4.
				VBROADCASTSS(ConstData(fmt.Sprintf("%s_k%d", name, len(consts)), U32(math.Float32bits(float32(v)))), r)
				consts[v] = r
			}
		}
	}
	var scale, bias Register
	var alpha, hi VecVirtual
	if ep {
		scale, bias = Load(Param("scale"), GP64()), Load(Param("bias"), GP64())
		act := Load(Param("act"), GP64())
		alpha, hi = YMM(), YMM()
		VMOVUPS(Mem{Base: act}, alpha)
		VMOVUPS(Mem{Base: act, Disp: 32}, hi)
	}
	Label("loop")
	var sc, bi VecVirtual
	if ep {
		sc, bi = YMM(), YMM()
		VMOVUPS(Mem{Base: scale}, sc)
		VMOVUPS(Mem{Base: bias}, bi)
	}
	for r, row := range coef {
		acc := YMM()
		first := true
		for c, v := range row {
			if v == 0 {
				continue
			}
			src := at(in, in3, is, c)
			switch {
			case first && v == 1:
				VMOVUPS(src, acc)
			case first:
				if _, ok := consts[v]; !ok { // −1 first: 0 − x
					VXORPS(acc, acc, acc)
					VSUBPS(src, acc, acc)
					break
				}
				VMULPS(src, consts[v], acc)
			case v == 1:
				VADDPS(src, acc, acc)
			case v == -1:
				VSUBPS(src, acc, acc)
			default:
				VFMADD231PS(src, consts[v], acc)
			}
			first = false
		}
		if ep {
			VFMADD213PS(bi, sc, acc) // acc·scale + bias
			t := YMM()
			VMULPS(acc, alpha, t)
			VMAXPS(t, acc, acc)
			VMINPS(hi, acc, acc)
		}
		VMOVUPS(acc, at(out, out3, os, r))
	}
	regs := []Register{in, in3, out, out3}
	if ep {
		regs = append(regs, scale, bias)
	}
	for _, r := range regs {
		ADDQ(U8(32), r)
	}
	SUBQ(U8(8), n)
	JNE(LabelRef("loop"))
	VZEROUPPER()
	RET()
}
