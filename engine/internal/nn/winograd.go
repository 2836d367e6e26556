package nn

import (
	"fmt"
	"sync"

	"github.com/facecluster/facecluster/engine/internal/blas"
)

// winograd is a 3×3 stride-1 convolution computed with Winograd's minimal filtering F(m×m, 3×3)
// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), m = 2 or 4: every
// m×m block of outputs costs (m+2)² multiplications per input/output channel pair instead of
// 9·m² (16 instead of 36 for m = 2, 36 instead of 144 for m = 4).
//
// The output is cut into m×m tiles; each tile reads an a×a input patch d, a = m+2 (zero outside
// the input, which gives any padding). With the transforms
//
//	V = Bᵀ d B   (input, per channel)    U = G g Gᵀ   (filter, once at construction)
//	Y = Aᵀ M A   (output, per channel)   M[ξν] = V[ξν] · U[ξν]  (a² matrix products)
//
// the element-wise stage becomes a² gemms of (tiles × in) · (in × out) through internal/blas,
// and the output transform applies Conv2D's epilogue (x·scale+bias, then the activation).
// Tiles are processed in blocks whose transformed inputs and products stay in L2. The
// transforms run over whole channel vectors (avo-generated AVX2 or AVX-512 loops, see asmgen).
//
// A winograd is immutable after construction and safe for concurrent use.
type winograd struct {
	scheme    *winoScheme
	in, out   int
	pad       Padding
	u         []*blas.PackedB // transformed filter, one in×out matrix per tile position (a²)
	scale     []float32       // per output channel (1 when the layer has none)
	bias      []float32       // per output channel (0 when the layer has none)
	alpha, hi float32         // activation as min(max(x, alpha·x), hi), as blas's epilogue
	act       [16]float32     // 8 × alpha then 8 × hi, for the assembly epilogue
}

// winoScheme is one F(m×m, 3×3): its matrices and their vector kernels.
type winoScheme struct {
	m, a int
	g    [][]float64 // a×3
	bt   winoTransform
	at   winoTransform // m×a
}

// winoTransform is a small constant matrix applied to channel vectors: out row r = Σ_c
// coef[r][c]·(in vector c).
type winoTransform struct {
	coef  [][]float32
	asm   func(out *float32, os int, in *float32, is int, n int) // AVX2: n a multiple of 8
	asmEp func(out *float32, os int, in *float32, is int, n int, scale, bias *float32, act *[16]float32)
	// The AVX-512 variants, any n; asm512 repeats the transform for groups (see applyGroups).
	asm512   func(out *float32, os int, in *float32, is int, n, groups, og, ig int)
	asmEp512 func(out *float32, os int, in *float32, is int, n, groups, og, ig int, scale, bias *float32, act *[16]float32)
}

var (
	winoF2 = &winoScheme{m: 2, a: 4,
		g: [][]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}},
		bt: winoTransform{coef: [][]float32{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}},
			asm: winoBT4, asm512: winoBT4AVX512},
		at: winoTransform{coef: [][]float32{{1, 1, 1, 0}, {0, 1, -1, -1}},
			asm: winoAT2, asmEp: winoAT2Epilogue, asm512: winoAT2AVX512, asmEp512: winoAT2EpilogueAVX512},
	}
	winoF4 = &winoScheme{m: 4, a: 6,
		g: [][]float64{
			{1.0 / 4, 0, 0},
			{-1.0 / 6, -1.0 / 6, -1.0 / 6},
			{-1.0 / 6, 1.0 / 6, -1.0 / 6},
			{1.0 / 24, 1.0 / 12, 1.0 / 6},
			{1.0 / 24, -1.0 / 12, 1.0 / 6},
			{0, 0, 1},
		},
		bt: winoTransform{coef: [][]float32{
			{4, 0, -5, 0, 1, 0},
			{0, -4, -4, 1, 1, 0},
			{0, 4, -4, -1, 1, 0},
			{0, -2, -1, 2, 1, 0},
			{0, 2, -1, -2, 1, 0},
			{0, 4, 0, -5, 0, 1},
		}, asm: winoBT6, asm512: winoBT6AVX512},
		at: winoTransform{coef: [][]float32{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}},
			asm: winoAT4, asmEp: winoAT4Epilogue, asm512: winoAT4AVX512, asmEp512: winoAT4EpilogueAVX512},
	}
)

// newWinograd transforms an HWIO 3×3 filter [3,3,in,out] for F(m×m, 3×3), m = 2 or 4 (in
// float64, rounded once).
func newWinograd(m int, filter []float32, in, out int, pad Padding, scale, bias []float32, act Activation) *winograd {
	if in < 1 || out < 1 || len(filter) != 9*in*out {
		panic(fmt.Sprintf("nn: newWinograd: %d filter values for 3x3x%dx%d", len(filter), in, out))
	}
	checkChannels("newWinograd scale", scale, out)
	checkChannels("newWinograd bias", bias, out)
	w := &winograd{in: in, out: out, pad: pad, scale: make([]float32, out), bias: make([]float32, out)}
	switch m {
	case 2:
		w.scheme = winoF2
	case 4:
		w.scheme = winoF4
	default:
		panic(fmt.Sprintf("nn: newWinograd: no F(%dx%d, 3x3)", m, m))
	}
	for k := range out {
		w.scale[k] = 1
		if scale != nil {
			w.scale[k] = scale[k]
		}
		if bias != nil {
			w.bias[k] = bias[k]
		}
	}
	w.alpha, w.hi = actParams(act)
	for i := range 8 {
		w.act[i], w.act[8+i] = w.alpha, w.hi
	}
	a, g := w.scheme.a, w.scheme.g
	u := make([][]float32, a*a)
	for i := range u {
		u[i] = make([]float32, in*out)
	}
	gf := make([][3]float64, a) // G·f
	for c := range in {
		for k := range out {
			for i := range a {
				for kx := range 3 {
					var s float64
					for ky := range 3 {
						s += g[i][ky] * float64(filter[((ky*3+kx)*in+c)*out+k])
					}
					gf[i][kx] = s
				}
			}
			for i := range a {
				for j := range a {
					var s float64 // (G·f·Gᵀ)[i][j]
					for kx := range 3 {
						s += gf[i][kx] * g[j][kx]
					}
					u[i*a+j][c*out+k] = float32(s)
				}
			}
		}
	}
	w.u = make([]*blas.PackedB, a*a)
	for i := range u {
		w.u[i] = blas.PackB(in, out, u[i], out)
	}
	return w
}

// winogradScratch holds one call's buffers; pooled so that steady-state inference does not
// allocate.
type winogradScratch struct {
	v, m []float32 // a block of transformed tiles: [tile][a²][in] and [tile][a²][out]
	d    []float32 // an edge tile's input patch, [a²][in]
	tmp  []float32 // the first pass of a transform, [a²][max(in, out)]
	row  []float32 // an edge tile's output row, [m][out]
}

var winogradPool = sync.Pool{New: func() any { return new(winogradScratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// tileBlock returns how many tiles to transform and multiply at a time: a multiple of the gemm's
// row panels (blas.PanelRows) whose transformed inputs and products (a²·(in+out) values per
// tile) fill about 192 KiB, so that they stay in L2 between the three stages.
func (w *winograd) tileBlock(tiles int) int {
	const budget = 192 << 10
	a2 := w.scheme.a * w.scheme.a
	nb := budget / (a2 * (w.in + w.out) * 4) / blas.PanelRows * blas.PanelRows
	nb = max(nb, 2*blas.PanelRows)
	return min(nb, (tiles+blas.PanelRows-1)/blas.PanelRows*blas.PanelRows)
}

// applyTo writes the convolution of src into dst; the caller has checked the shapes.
func (w *winograd) applyTo(dst, src *Tensor) {
	w.applyBatch([]*Tensor{dst}, []*Tensor{src})
}

// inputTile writes V = Bᵀ d B for the a×a patch whose top-left input pixel is (iy0, ix0) into
// v ([a²][in]).
func (w *winograd) inputTile(s *winogradScratch, v []float32, src *Tensor, iy0, ix0 int) {
	a, C := w.scheme.a, w.in
	d, dStride := src.Data, src.W*C // the patch: rows dStride apart, pixels C apart
	dOff := (iy0*src.W + ix0) * C
	if iy0 < 0 || ix0 < 0 || iy0+a > src.H || ix0+a > src.W {
		// At the edge: copy the patch with zeros outside the input.
		d, dStride, dOff = s.d, a*C, 0
		for i := range a {
			for j := range a {
				px := d[(i*a+j)*C : (i*a+j+1)*C]
				iy, ix := iy0+i, ix0+j
				if iy < 0 || iy >= src.H || ix < 0 || ix >= src.W {
					clear(px)
					continue
				}
				copy(px, src.Data[(iy*src.W+ix)*C:])
			}
		}
	}
	t := s.tmp[:a*a*C]
	w.scheme.bt.applyGroups(t, a*C, d[dOff:], dStride, C, a, C, C) // Bᵀ·d, column by column
	w.scheme.bt.applyGroups(v, C, t, C, C, a, a*C, a*C)            // (Bᵀ·d)·B, row by row
}

// outputTile writes Y = Aᵀ M A, with the epilogue, for the m×m tile whose top-left output pixel
// is (oy0, ox0); mt is [a²][out]. Outputs past the bottom/right edge are dropped.
func (w *winograd) outputTile(s *winogradScratch, mt []float32, dst *Tensor, oy0, ox0 int) {
	m, a, K := w.scheme.m, w.scheme.a, w.out
	t := s.tmp[:m*a*K] // [m][a][out]: Aᵀ·M
	w.scheme.at.applyGroups(t, a*K, mt, a*K, K, a, K, K)
	if useAVX512 && oy0+m <= dst.H && ox0+m <= dst.W {
		// A whole tile inside the output: its m rows in one call.
		off := (oy0*dst.W + ox0) * K
		last := (m - 1) * dst.W * K
		w.scheme.at.check(dst.Data[off+last:], K, t[(m-1)*a*K:], K, K)
		w.scheme.at.asmEp512(&dst.Data[off], K, &t[0], K, K, m, dst.W*K, a*K, &w.scale[0], &w.bias[0], &w.act)
		return
	}
	for r := range m {
		oy := oy0 + r
		if oy >= dst.H {
			break
		}
		off := (oy*dst.W + ox0) * K
		if ox0+m <= dst.W {
			w.scheme.at.applyEpilogue(w, dst.Data[off:], K, t[r*a*K:], K)
			continue
		}
		w.scheme.at.applyEpilogue(w, s.row, K, t[r*a*K:], K)
		copy(dst.Data[off:off+(dst.W-ox0)*K], s.row)
	}
}

// apply computes out[r·os + x] = Σ_c coef[r][c]·in[c·is + x] for x < n.
func (t *winoTransform) apply(out []float32, os int, in []float32, is int, n int) {
	t.check(out, os, in, is, n)
	done := 0
	switch {
	case useAVX512 && n > 0:
		done = n
		t.asm512(&out[0], os, &in[0], is, n, 1, 0, 0)
	case useAsm && n >= 8:
		done = n &^ 7
		t.asm(&out[0], os, &in[0], is, done)
	}
	for r, row := range t.coef {
		o := out[r*os : r*os+n]
		for x := done; x < n; x++ {
			var y float32
			for c, k := range row {
				if k != 0 {
					y += k * in[c*is+x]
				}
			}
			o[x] = y
		}
	}
}

// applyGroups is apply for g < groups on out[g·og:] and in[g·ig:]: with AVX-512 in one call
// (the transforms of a tile's a columns or rows are each only a few vectors long).
func (t *winoTransform) applyGroups(out []float32, os int, in []float32, is int, n, groups, og, ig int) {
	if useAVX512 && n > 0 {
		last := groups - 1
		t.check(out[last*og:], os, in[last*ig:], is, n)
		t.asm512(&out[0], os, &in[0], is, n, groups, og, ig)
		return
	}
	for g := range groups {
		t.apply(out[g*og:], os, in[g*ig:], is, n)
	}
}

// applyEpilogue is apply followed by w's x·scale+bias and activation.
func (t *winoTransform) applyEpilogue(w *winograd, out []float32, os int, in []float32, is int) {
	n := w.out
	t.check(out, os, in, is, n)
	done := 0
	switch {
	case useAVX512 && n > 0:
		done = n
		t.asmEp512(&out[0], os, &in[0], is, n, 1, 0, 0, &w.scale[0], &w.bias[0], &w.act)
	case useAsm && n >= 8:
		done = n &^ 7
		t.asmEp(&out[0], os, &in[0], is, done, &w.scale[0], &w.bias[0], &w.act)
	}
	for r, row := range t.coef {
		o := out[r*os : r*os+n]
		for x := done; x < n; x++ {
			var y float32
			for c, k := range row {
				if k != 0 {
					y += k * in[c*is+x]
				}
			}
			y = y*w.scale[x] + w.bias[x]
			o[x] = min(max(y, w.alpha*y), w.hi)
		}
	}
}

// check guards the assembly, which does not bounds-check.
func (t *winoTransform) check(out []float32, os int, in []float32, is int, n int) {
	if rows, cols := len(t.coef), len(t.coef[0]); len(out) < (rows-1)*os+n || len(in) < (cols-1)*is+n {
		panic(fmt.Sprintf("nn: winograd transform: %d and %d values for %dx%d vectors of %d", len(out), len(in), rows, cols, n))
	}
}

// winogradTile returns the output tile size m of the Winograd F(m×m, 3×3) that makes a 3×3
// stride-1 convolution with these channel counts fastest, or 0 for im2col + gemm. Measured in
// the recognition net (per-layer CPU time, one face and batches of four, docs/benchmarks.md) on
// Zen 5: F(4×4) up to 128 channels, F(2×2) at 256 (its 4×4 maps: four tiles per face, 1.35×
// faster than im2col alone and 1.7× in a batch of four faces; F(4×4) there reads 4× the
// filter's bytes for one tile per face and is 1.5× slower alone). On Zen 3, with half the L2,
// 128 channels were faster with F(2×2) and 256 with im2col.
func winogradTile(in, out int) int {
	switch {
	case in < 32 || out < 32 || in > 256 || out > 256:
		return 0
	case in <= 128 && out <= 128:
		return 4
	}
	return 2
}
