package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 kernels (AVX512F + BMI2) work on 16 floats per ZMM register and take any channel
// count: the last, partial 16-float slice runs under a K mask (zeroing loads, masked stores),
// so no Go tail loop is needed.

// tailMask sets k to the low n&15 bits (the lanes of a partial last slice) of the float count n.
func tailMask(n Register, k Register) {
	rem, ones := GP64(), GP32()
	MOVQ(n, rem)
	ANDQ(U8(15), rem)
	MOVL(U32(0xFFFF), ones)
	BZHIL(rem.As32(), ones, ones) // keep bits below rem
	KMOVW(ones, k)
}

// vload loads a vector, under the zeroing mask k when masked.
func vload(m Mem, dst VecVirtual, k Register, masked bool) {
	if masked {
		VMOVUPS_Z(m, k, dst)
	} else {
		VMOVUPS(m, dst)
	}
}

// vstore stores a vector, only the lanes in k when masked.
func vstore(src VecVirtual, m Mem, k Register, masked bool) {
	if masked {
		VMOVUPS(src, k, m)
	} else {
		VMOVUPS(src, m)
	}
}

// elementwise512 is elementwise for any n: 64 floats per iteration, then 16, then a masked tail.
func elementwise512(name string, add, relu bool) {
	TEXT(name, NOSPLIT, "func(dst, a, b *float32, n int)")
	Pragma("noescape")
	what := map[[2]bool]string{{true, false}: "a+b", {false, true}: "max(a, 0)", {true, true}: "max(a+b, 0)"}[[2]bool{add, relu}]
	Doc(name + " writes " + what + " to dst for any n floats (AVX-512).")
	dst := Load(Param("dst"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	n := Load(Param("n"), GP64())
	zero := ZMM()
	VPXORD(zero, zero, zero)
	k := K()
	op := func(disp int, masked bool) {
		x := ZMM()
		vload(Mem{Base: a, Disp: disp}, x, k, masked)
		if add {
			y := ZMM()
			vload(Mem{Base: b, Disp: disp}, y, k, masked)
			VADDPS(y, x, x)
		}
		if relu {
			VMAXPS(zero, x, x)
		}
		vstore(x, Mem{Base: dst, Disp: disp}, k, masked)
	}
	body := func(vectors int, label, next string) {
		Label(label)
		CMPQ(n, U8(16*vectors))
		JL(LabelRef(next))
		for v := range vectors {
			op(64*v, false)
		}
		for _, r := range []Register{dst, a, b} {
			ADDQ(U32(64*vectors), r)
		}
		SUBQ(U8(16*vectors), n)
		JMP(LabelRef(label))
	}
	body(4, "by64", "by16")
	body(1, "by16", "tail")
	Label("tail")
	TESTQ(n, n)
	JE(LabelRef("done"))
	tailMask(n, k)
	op(0, true)
	Label("done")
	VZEROUPPER()
	RET()
}

// slices emits the channel loop of one pixel (group): body over whole 16-float slices while at
// least cb bytes... remain, then once under the mask for a partial slice. cnt counts the bytes
// left; ptrs advance by the bytes done, so that after the loop each has advanced cb (the bytes of
// C floats). w (if not nil) advances wstep per slice, the partial one included.
func slices(cb, cnt Register, ptrs []Register, w Register, wstep int, body func(masked bool), id string) {
	MOVQ(cb, cnt)
	Label(id + "full")
	CMPQ(cnt, U8(64))
	JL(LabelRef(id + "tail"))
	body(false)
	for _, r := range ptrs {
		ADDQ(U8(64), r)
	}
	if w != nil {
		ADDQ(U32(wstep), w)
	}
	SUBQ(U8(64), cnt)
	JMP(LabelRef(id + "full"))
	Label(id + "tail")
	TESTQ(cnt, cnt)
	JE(LabelRef(id + "end"))
	body(true)
	for _, r := range ptrs {
		ADDQ(cnt, r)
	}
	Label(id + "end")
}

// maxPool512 is maxPool for any channel count.
func maxPool512(name string, k int) {
	TEXT(name, NOSPLIT, "func(out, in0, in1, in2 *float32, n, c, stride int)")
	Pragma("noescape")
	Doc(name + " computes n output pixels of a " + []string{"", "", "2×2", "3×3"}[k] + " max pool over in-bounds windows, any channel count (AVX-512).")
	out := Load(Param("out"), GP64())
	in := []Register{Load(Param("in0"), GP64()), Load(Param("in1"), GP64())}
	if k == 3 {
		in = append(in, Load(Param("in2"), GP64()))
	}
	n := Load(Param("n"), GP64())
	c := Load(Param("c"), GP64())
	mask := K()
	tailMask(c, mask)
	cb := c
	SHLQ(U8(2), cb)
	step := Load(Param("stride"), GP64())
	DECQ(step)
	IMULQ(cb, step) // after a pixel's channels, inputs advance (stride-1)·C more
	cnt := GP64()
	Label("pixel")
	TESTQ(n, n)
	JE(LabelRef("done"))
	slices(cb, cnt, append([]Register{out}, in...), nil, 0, func(masked bool) {
		acc := ZMM()
		vload(Mem{Base: in[0]}, acc, mask, masked)
		for ky := range k {
			for kx := range k {
				if ky == 0 && kx == 0 {
					continue
				}
				m := Mem{Base: in[ky]}
				if kx > 0 {
					m = Mem{Base: in[ky], Index: cb, Scale: uint8(kx)}
				}
				if masked {
					x := ZMM()
					vload(m, x, mask, true)
					VMAXPS(x, acc, acc)
				} else {
					VMAXPS(m, acc, acc)
				}
			}
		}
		vstore(acc, Mem{Base: out}, mask, masked)
	}, "ch")
	for _, r := range in {
		ADDQ(step, r)
	}
	DECQ(n)
	JMP(LabelRef("pixel"))
	Label("done")
	VZEROUPPER()
	RET()
}

// depthwise3x3Pixels512 emits name(out, in0, in1, in2, w *float32, n, c, cs int, act
// *[16]float32): c channels (any count) of n output pixels of one row of a 3×3 depthwise
// convolution with the given stride (1 or 2, fixed at generation), pixels cs floats apart (the
// caller may split the channels into blocks: in, out and w then point at the block's first). Pixels go in groups of four that load each input vector
// once per row of taps and use it for every pixel whose window covers it (6 loads per tap row
// instead of 12 for stride 1, 9 for stride 2), with the nine filter vectors held in registers;
// the remaining pixels one by one. Channels are innermost as in dw3x3Pixels. w holds, per
// 16-channel slice (the last one zero-padded), the nine taps then the scale and the bias
// (11 × 16 floats); act holds 8 × alpha then 8 × hi.
func depthwise3x3Pixels512(name string, stride int) {
	TEXT(name, NOSPLIT, "func(out, in0, in1, in2, w *float32, n, c, cs int, act *[16]float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes all channels of n output pixels of a stride-%d 3×3 depthwise convolution row, any channel count, with its fused epilogue (AVX-512, see asmgen).", name, stride))
	act := Load(Param("act"), GP64())
	alpha, hi := ZMM(), ZMM()
	VBROADCASTSS(Mem{Base: act}, alpha)
	VBROADCASTSS(Mem{Base: act, Disp: 32}, hi)
	out := Load(Param("out"), GP64())
	in := []Register{Load(Param("in0"), GP64()), Load(Param("in1"), GP64()), Load(Param("in2"), GP64())}
	wbase := Load(Param("w"), GP64())
	n := Load(Param("n"), GP64())
	cb := Load(Param("c"), GP64())
	mask := K()
	tailMask(cb, mask)
	SHLQ(U8(2), cb) // bytes of the channels computed
	c1 := Load(Param("cs"), GP64())
	SHLQ(U8(2), c1) // bytes per pixel
	c3, c5, c7 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: c1, Index: c1, Scale: 2}, c3)
	LEAQ(Mem{Base: c1, Index: c1, Scale: 4}, c5)
	LEAQ(Mem{Base: c3, Index: c1, Scale: 4}, c7)
	// col is input column j (pixels) of row base r.
	col := func(r Register, j int) Mem {
		switch j {
		case 0:
			return Mem{Base: r}
		case 1, 2, 4, 8:
			return Mem{Base: r, Index: c1, Scale: uint8(j)}
		case 3:
			return Mem{Base: r, Index: c3, Scale: 1}
		case 5:
			return Mem{Base: r, Index: c5, Scale: 1}
		case 6:
			return Mem{Base: r, Index: c3, Scale: 2}
		case 7:
			return Mem{Base: r, Index: c7, Scale: 1}
		}
		panic("column")
	}
	w, cnt := GP64(), GP64()

	group := func(np int, label string) {
		MOVQ(wbase, w)
		slices(cb, cnt, append([]Register{out}, in...), w, 11*64, func(masked bool) {
			var taps [9]VecVirtual
			for t := range taps {
				taps[t] = ZMM()
				VMOVUPS(Mem{Base: w, Disp: 64 * t}, taps[t]) // padded: never masked
			}
			acc := make([][3]VecVirtual, np)
			for p := range acc {
				for ky := range 3 {
					acc[p][ky] = ZMM()
				}
			}
			for ky := range 3 {
				for j := 0; j <= (np-1)*stride+2; j++ {
					x := ZMM()
					vload(col(in[ky], j), x, mask, masked)
					for p := range np {
						kx := j - p*stride
						if kx < 0 || kx > 2 {
							continue
						}
						if kx == 0 {
							VMULPS(x, taps[ky*3], acc[p][ky])
						} else {
							VFMADD231PS(x, taps[ky*3+kx], acc[p][ky])
						}
					}
				}
			}
			sc, bi := ZMM(), ZMM()
			VMOVUPS(Mem{Base: w, Disp: 64 * 9}, sc)
			VMOVUPS(Mem{Base: w, Disp: 64 * 10}, bi)
			for p := range np {
				a := acc[p][0]
				VADDPS(acc[p][1], a, a)
				VADDPS(acc[p][2], a, a)
				VFMADD213PS(bi, sc, a)
				t := ZMM()
				VMULPS(a, alpha, t)
				VMAXPS(t, a, a)
				VMINPS(hi, a, a)
				vstore(a, col(out, p), mask, masked)
			}
		}, label)
		// The slice loop moved every pointer on by the c channels: back to the group's start,
		// then inputs on to the next group's first window (np·stride pixels), out past the
		// group's np pixels.
		step := func(r Register, pixels int) {
			SUBQ(cb, r)
			switch pixels {
			case 1, 2, 4, 8:
				LEAQ(Mem{Base: r, Index: c1, Scale: uint8(pixels)}, r)
			default:
				panic("step")
			}
		}
		for _, r := range in {
			step(r, np*stride)
		}
		step(out, np)
	}

	Label("quad")
	CMPQ(n, U8(4))
	JL(LabelRef("single"))
	group(4, "q")
	SUBQ(U8(4), n)
	JMP(LabelRef("quad"))
	Label("single")
	TESTQ(n, n)
	JE(LabelRef("done"))
	group(1, "s")
	DECQ(n)
	JMP(LabelRef("single"))
	Label("done")
	VZEROUPPER()
	RET()
}

// linearTransform512 is linearTransform for any n (16 channels per iteration, masked tail).
//
// It takes groups, og and ig: it repeats the transform groups times, out and in moving on og and
// ig floats each time (a Winograd tile's columns or rows in one call).
func linearTransform512(name string, coef [][]float64, ep bool) {
	sig := "func(out *float32, os int, in *float32, is int, n, groups, og, ig int)"
	if ep {
		sig = "func(out *float32, os int, in *float32, is int, n, groups, og, ig int, scale, bias *float32, act *[16]float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	what := fmt.Sprintf("applies the %d×%d Winograd transform %v", len(coef), len(coef[0]), coef)
	if ep {
		what += " and the epilogue"
	}
	Doc(name + " " + what + " to any n channels (AVX-512, see asmgen).")
	out := Load(Param("out"), GP64())
	os := Load(Param("os"), GP64())
	in := Load(Param("in"), GP64())
	is := Load(Param("is"), GP64())
	n := Load(Param("n"), GP64())
	mask := K()
	tailMask(n, mask)
	SHLQ(U8(2), os)
	SHLQ(U8(2), is)
	SHLQ(U8(2), n) // bytes
	in3, out3 := GP64(), GP64()
	LEAQ(Mem{Base: in, Index: is, Scale: 2}, in3)
	ADDQ(is, in3)
	LEAQ(Mem{Base: out, Index: os, Scale: 2}, out3)
	ADDQ(os, out3)
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
				r := ZMM()
				VBROADCASTSS(ConstData(fmt.Sprintf("%s_k%d", name, len(consts)), U32(math.Float32bits(float32(v)))), r)
				consts[v] = r
			}
		}
	}
	zero := ZMM()
	VPXORD(zero, zero, zero)
	var scale, bias Register
	var alpha, hi VecVirtual
	if ep {
		scale, bias = Load(Param("scale"), GP64()), Load(Param("bias"), GP64())
		act := Load(Param("act"), GP64())
		alpha, hi = ZMM(), ZMM()
		VBROADCASTSS(Mem{Base: act}, alpha)
		VBROADCASTSS(Mem{Base: act, Disp: 32}, hi)
	}
	ptrs := []Register{in, in3, out, out3}
	if ep {
		ptrs = append(ptrs, scale, bias)
	}
	cnt := GP64()
	groups := Load(Param("groups"), GP64())
	og, ig := Load(Param("og"), GP64()), Load(Param("ig"), GP64())
	// After a group's channels, out and in move on by og, ig floats less the n done.
	SHLQ(U8(2), og)
	SUBQ(n, og)
	SHLQ(U8(2), ig)
	SUBQ(n, ig)
	Label("group")
	slices(n, cnt, ptrs, nil, 0, func(masked bool) {
		var sc, bi VecVirtual
		if ep {
			sc, bi = ZMM(), ZMM()
			vload(Mem{Base: scale}, sc, mask, masked)
			vload(Mem{Base: bias}, bi, mask, masked)
		}
		// Each input vector is loaded once (the rows share them).
		xs := make([]VecVirtual, len(coef[0]))
		for c := range xs {
			xs[c] = ZMM()
			vload(at(in, in3, is, c), xs[c], mask, masked)
		}
		for r, row := range coef {
			acc := ZMM()
			first := true
			for c, v := range row {
				if v == 0 {
					continue
				}
				x := xs[c]
				switch {
				case first && v == 1:
					VMOVAPS(x, acc)
				case first && v == -1:
					VSUBPS(x, zero, acc)
				case first:
					VMULPS(x, consts[v], acc)
				case v == 1:
					VADDPS(x, acc, acc)
				case v == -1:
					VSUBPS(x, acc, acc)
				default:
					VFMADD231PS(x, consts[v], acc)
				}
				first = false
			}
			if ep {
				VFMADD213PS(bi, sc, acc)
				t := ZMM()
				VMULPS(acc, alpha, t)
				VMAXPS(t, acc, acc)
				VMINPS(hi, acc, acc)
			}
			vstore(acc, at(out, out3, os, r), mask, masked)
		}
	}, "ch")
	ADDQ(og, out)
	ADDQ(og, out3)
	ADDQ(ig, in)
	ADDQ(ig, in3)
	if ep { // the same channels' scale and bias again
		SUBQ(n, scale)
		SUBQ(n, bias)
	}
	DECQ(groups)
	JNE(LabelRef("group"))
	VZEROUPPER()
	RET()
}

// smallConvArgs loads what both direct small-convolution kernels start with: the activation's
// alpha and hi broadcast, the out, in and n arguments, and the pixel step in bytes.
func smallConvArgs() (alpha, hi VecVirtual, out, in, n, ps Register) {
	act := Load(Param("act"), GP64())
	alpha, hi = ZMM(), ZMM()
	VBROADCASTSS(Mem{Base: act}, alpha)
	VBROADCASTSS(Mem{Base: act, Disp: 32}, hi)
	out = Load(Param("out"), GP64())
	in = Load(Param("in"), GP64())
	n = Load(Param("n"), GP64())
	ps = Load(Param("pstep"), GP64())
	SHLQ(U8(2), ps)
	return alpha, hi, out, in, n, ps
}

// convSmallRow512 emits convSmallRowAVX512(out, in, w *float32, n, pstep, rstride, kh, seg,
// ostride int, act *[16]float32): 32 output channels of n output pixels of a convolution whose
// windows lie inside the input, computed directly, for layers with few input channels (the
// nets' first layers on RGB), where im2col + gemm copies more than it multiplies. in points at
// the first pixel's window (row 0, column 0, channel 0); windows are pstep floats apart, input
// rows rstride floats apart; a window row is seg = kw·in contiguous floats, kh rows. w holds the
// HWIO filter's kh·seg rows restricted to the 32 channels (32 floats each), then 32 scales and
// 32 biases. Output pixels are ostride floats apart; act holds 8 × alpha then 8 × hi. Pixels go
// in groups of six (12 accumulators): each filter row is loaded once per group and each input
// value broadcast once for both halves of the 32 channels.
func convSmallRow512() {
	TEXT("convSmallRowAVX512", NOSPLIT, "func(out, in, w *float32, n, pstep, rstride, kh, seg, ostride int, act *[16]float32)")
	Pragma("noescape")
	Doc("convSmallRowAVX512 computes 32 output channels of n output pixels of a convolution with few input channels directly, with the fused epilogue (AVX-512, see asmgen).")
	alpha, hi, out, in, n, ps := smallConvArgs()
	ps3, ps5 := GP64(), GP64()
	LEAQ(Mem{Base: ps, Index: ps, Scale: 2}, ps3)
	LEAQ(Mem{Base: ps, Index: ps, Scale: 4}, ps5)
	pix := func(base Register, p int) Mem {
		switch p {
		case 0:
			return Mem{Base: base}
		case 1, 2, 4:
			return Mem{Base: base, Index: ps, Scale: uint8(p)}
		case 3:
			return Mem{Base: base, Index: ps3, Scale: 1}
		case 5:
			return Mem{Base: base, Index: ps5, Scale: 1}
		}
		panic("pixel")
	}
	group := func(np int, id string) {
		acc := make([][2]VecVirtual, np)
		for p := range acc {
			for v := range 2 {
				acc[p][v] = ZMM()
				VPXORD(acc[p][v], acc[p][v], acc[p][v])
			}
		}
		wp := Load(Param("w"), GP64())
		rp, ip := GP64(), GP64()
		MOVQ(in, rp)
		cky, cj := Load(Param("kh"), GP64()), GP64()
		Label(id + "row")
		MOVQ(rp, ip)
		Load(Param("seg"), cj)
		Label(id + "tap")
		w0, w1 := ZMM(), ZMM()
		VMOVUPS(Mem{Base: wp}, w0)
		VMOVUPS(Mem{Base: wp, Disp: 64}, w1)
		for p := range np {
			b := ZMM()
			VBROADCASTSS(pix(ip, p), b)
			VFMADD231PS(b, w0, acc[p][0])
			VFMADD231PS(b, w1, acc[p][1])
		}
		ADDQ(U8(4), ip)
		ADDQ(U32(128), wp)
		DECQ(cj)
		JNE(LabelRef(id + "tap"))
		rs := Load(Param("rstride"), GP64())
		LEAQ(Mem{Base: rp, Index: rs, Scale: 4}, rp)
		DECQ(cky)
		JNE(LabelRef(id + "row"))
		// wp now points at the scales, then the biases.
		os := Load(Param("ostride"), GP64())
		SHLQ(U8(2), os)
		for p := range np {
			for v := range 2 {
				a := acc[p][v]
				sc := ZMM()
				VMOVUPS(Mem{Base: wp, Disp: 64 * v}, sc)
				VFMADD213PS(Mem{Base: wp, Disp: 128 + 64*v}, sc, a) // a·scale + bias
				t := ZMM()
				VMULPS(a, alpha, t)
				VMAXPS(t, a, a)
				VMINPS(hi, a, a)
				VMOVUPS(a, Mem{Base: out, Disp: 64 * v})
			}
			ADDQ(os, out)
		}
		switch np {
		case 1:
			ADDQ(ps, in)
		case 6:
			LEAQ(Mem{Base: in, Index: ps3, Scale: 2}, in)
		}
	}
	Label("six")
	CMPQ(n, U8(6))
	JL(LabelRef("single"))
	group(6, "g")
	SUBQ(U8(6), n)
	JMP(LabelRef("six"))
	Label("single")
	TESTQ(n, n)
	JE(LabelRef("done"))
	group(1, "s")
	DECQ(n)
	JMP(LabelRef("single"))
	Label("done")
	VZEROUPPER()
	RET()
}

// convSmallRow16x512 emits convSmallRow16AVX512, convSmallRowAVX512 for a block of 16 output
// channels (one vector per pixel; the first layer of TinyFaceDetector is 3→16): w holds the
// kh·seg filter rows restricted to the 16 channels (16 floats each), then 16 scales and 16
// biases. Pixels go in groups of eight (8 accumulators, enough to keep both FMA units busy),
// each input value read by the FMA's embedded broadcast.
func convSmallRow16x512() {
	TEXT("convSmallRow16AVX512", NOSPLIT, "func(out, in, w *float32, n, pstep, rstride, kh, seg, ostride int, act *[16]float32)")
	Pragma("noescape")
	Doc("convSmallRow16AVX512 is convSmallRowAVX512 for 16 output channels (AVX-512, see asmgen).")
	alpha, hi, out, in, n, ps := smallConvArgs()
	ps3, ps5, ps7 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: ps, Index: ps, Scale: 2}, ps3)
	LEAQ(Mem{Base: ps, Index: ps, Scale: 4}, ps5)
	LEAQ(Mem{Base: ps3, Index: ps, Scale: 4}, ps7)
	pix := func(base Register, p int) Mem {
		switch p {
		case 0:
			return Mem{Base: base}
		case 1, 2, 4, 8:
			return Mem{Base: base, Index: ps, Scale: uint8(p)}
		case 3:
			return Mem{Base: base, Index: ps3, Scale: 1}
		case 5:
			return Mem{Base: base, Index: ps5, Scale: 1}
		case 6:
			return Mem{Base: base, Index: ps3, Scale: 2}
		case 7:
			return Mem{Base: base, Index: ps7, Scale: 1}
		}
		panic("pixel")
	}
	group := func(np int, id string) {
		acc := make([]VecVirtual, np)
		for p := range acc {
			acc[p] = ZMM()
			VPXORD(acc[p], acc[p], acc[p])
		}
		wp := Load(Param("w"), GP64())
		rp, ip := GP64(), GP64()
		MOVQ(in, rp)
		cky, cj := Load(Param("kh"), GP64()), GP64()
		Label(id + "row")
		MOVQ(rp, ip)
		Load(Param("seg"), cj)
		Label(id + "tap")
		w0 := ZMM()
		VMOVUPS(Mem{Base: wp}, w0)
		for p := range np {
			VFMADD231PS_BCST(pix(ip, p), w0, acc[p])
		}
		ADDQ(U8(4), ip)
		ADDQ(U8(64), wp)
		DECQ(cj)
		JNE(LabelRef(id + "tap"))
		rs := Load(Param("rstride"), GP64())
		LEAQ(Mem{Base: rp, Index: rs, Scale: 4}, rp)
		DECQ(cky)
		JNE(LabelRef(id + "row"))
		// wp now points at the scales, then the biases.
		os := Load(Param("ostride"), GP64())
		SHLQ(U8(2), os)
		sc := ZMM()
		VMOVUPS(Mem{Base: wp}, sc)
		for p := range np {
			a := acc[p]
			VFMADD213PS(Mem{Base: wp, Disp: 64}, sc, a) // a·scale + bias
			t := ZMM()
			VMULPS(a, alpha, t)
			VMAXPS(t, a, a)
			VMINPS(hi, a, a)
			VMOVUPS(a, Mem{Base: out})
			ADDQ(os, out)
		}
		switch np {
		case 1:
			ADDQ(ps, in)
		case 8:
			LEAQ(Mem{Base: in, Index: ps, Scale: 8}, in)
		}
	}
	Label("eight")
	CMPQ(n, U8(8))
	JL(LabelRef("single"))
	group(8, "g")
	SUBQ(U8(8), n)
	JMP(LabelRef("eight"))
	Label("single")
	TESTQ(n, n)
	JE(LabelRef("done"))
	group(1, "s")
	DECQ(n)
	JMP(LabelRef("single"))
	Label("done")
	VZEROUPPER()
	RET()
}
