package nn

import (
	"fmt"
	"sync"

	"github.com/facecluster/facecluster/internal/blas"
)

// winograd is a 3×3 stride-1 convolution computed with Winograd's minimal filtering
// F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): every
// 2×2 block of outputs costs 16 multiplications per input/output channel pair instead of 36.
//
// The output is cut into 2×2 tiles; each tile reads a 4×4 input patch d (zero outside the
// input). With the transforms
//
//	V = Bᵀ d B   (input, per channel)    U = G g Gᵀ   (filter, once at construction)
//	Y = Aᵀ M A   (output, per channel)   M[ξν] = V[ξν] · U[ξν]  (16 matrix products)
//
// the element-wise stage becomes 16 gemms of (tiles × in) · (in × out) through internal/blas,
// and the output transform applies Conv2D's epilogue (x·scale+bias, then the activation).
// Tiles are processed in blocks whose transformed inputs and products stay in L2.
//
// A winograd is immutable after construction and safe for concurrent use.
type winograd struct {
	in, out   int
	pad       Padding
	u         [16]*blas.PackedB // transformed filter, one in×out matrix per tile position
	scale     []float32         // per output channel (1 when the layer has none)
	bias      []float32         // per output channel (0 when the layer has none)
	alpha, hi float32           // activation as min(max(x, alpha·x), hi), as blas's epilogue
	act       [16]float32       // 8 × alpha then 8 × hi, for the assembly epilogue
}

// newWinograd transforms an HWIO 3×3 filter [3,3,in,out] (in float64, rounded once).
func newWinograd(filter []float32, in, out int, pad Padding, scale, bias []float32, act Activation) *winograd {
	if in < 1 || out < 1 || len(filter) != 9*in*out {
		panic(fmt.Sprintf("nn: newWinograd: %d filter values for 3x3x%dx%d", len(filter), in, out))
	}
	checkChannels("newWinograd scale", scale, out)
	checkChannels("newWinograd bias", bias, out)
	w := &winograd{in: in, out: out, pad: pad, scale: make([]float32, out), bias: make([]float32, out)}
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
	// G = [[1,0,0], [½,½,½], [½,-½,½], [0,0,1]].
	g := [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	var u [16][]float32
	for i := range u {
		u[i] = make([]float32, in*out)
	}
	for c := range in {
		for k := range out {
			var f [3][3]float64
			for ky := range 3 {
				for kx := range 3 {
					f[ky][kx] = float64(filter[((ky*3+kx)*in+c)*out+k])
				}
			}
			var gf [4][3]float64 // G·f
			for i := range 4 {
				for kx := range 3 {
					for ky := range 3 {
						gf[i][kx] += g[i][ky] * f[ky][kx]
					}
				}
			}
			for i := range 4 {
				for j := range 4 {
					var s float64 // (G·f·Gᵀ)[i][j]
					for kx := range 3 {
						s += gf[i][kx] * g[j][kx]
					}
					u[i*4+j][c*out+k] = float32(s)
				}
			}
		}
	}
	for i := range u {
		w.u[i] = blas.PackB(in, out, u[i], out)
	}
	return w
}

// winogradScratch holds one call's buffers; pooled so that steady-state inference does not
// allocate.
type winogradScratch struct {
	v, m  []float32 // a block of transformed tiles: [tile][16][in] and [tile][16][out]
	tmp   []float32 // 16 vectors of max(in, out) for the two-pass transforms
	zero  []float32 // in zeros: the input outside the image
	trash []float32 // out values: outputs past the bottom/right edge
}

var winogradPool = sync.Pool{New: func() any { return new(winogradScratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// tileBlock returns how many tiles to transform and multiply at a time: a multiple of the gemm's
// six-row panels whose transformed inputs and products (16·(in+out) values per tile) fill
// about 192 KiB, so that they stay in L2 between the three stages.
func (w *winograd) tileBlock(tiles int) int {
	const budget = 192 << 10
	nb := budget / (16 * (w.in + w.out) * 4) / blas.PanelRows * blas.PanelRows
	nb = max(nb, 2*blas.PanelRows)
	return min(nb, (tiles+blas.PanelRows-1)/blas.PanelRows*blas.PanelRows)
}

// applyTo writes the convolution of src into dst; the caller has checked the shapes.
func (w *winograd) applyTo(dst, src *Tensor) {
	oh, ow := dst.H, dst.W
	th, tw := (oh+1)/2, (ow+1)/2
	tiles := th * tw
	C, K := w.in, w.out
	nb := w.tileBlock(tiles)

	s := winogradPool.Get().(*winogradScratch)
	defer winogradPool.Put(s)
	s.v = grow(s.v, nb*16*C)
	s.m = grow(s.m, nb*16*K)
	s.tmp = grow(s.tmp, 16*max(C, K))
	s.zero = grow(s.zero, C)
	clear(s.zero)
	s.trash = grow(s.trash, K)

	for base := 0; base < tiles; base += nb {
		n := min(nb, tiles-base)
		for t := range n {
			ty, tx := (base+t)/tw, (base+t)%tw
			w.inputTile(s, s.v[t*16*C:(t+1)*16*C], src, 2*ty-w.pad.Top, 2*tx-w.pad.Left)
		}
		for p := range 16 {
			a, c := s.v[p*C:], s.m[p*K:]
			if w.u[p].PreferRows() {
				blas.SgemmRows(n, a, 16*C, w.u[p], nil, c, 16*K)
			} else {
				blas.SgemmEpilogue(n, a, 16*C, w.u[p], nil, c, 16*K)
			}
		}
		for t := range n {
			ty, tx := (base+t)/tw, (base+t)%tw
			w.outputTile(s, s.m[t*16*K:(t+1)*16*K], dst, 2*ty, 2*tx)
		}
	}
}

// inputTile writes V = Bᵀ d B for the 4×4 patch whose top-left input pixel is (iy0, ix0) into
// v ([16][in]). Bᵀ = [[1,0,-1,0], [0,1,1,0], [0,-1,1,0], [0,1,0,-1]].
func (w *winograd) inputTile(s *winogradScratch, v []float32, src *Tensor, iy0, ix0 int) {
	C := w.in
	var d [16][]float32 // the patch's pixels; zeros outside the input
	for i := range 4 {
		iy := iy0 + i
		for j := range 4 {
			ix := ix0 + j
			if iy < 0 || iy >= src.H || ix < 0 || ix >= src.W {
				d[i*4+j] = s.zero
				continue
			}
			off := (iy*src.W + ix) * C
			d[i*4+j] = src.Data[off : off+C]
		}
	}
	t := s.tmp[:16*C]
	col := func(buf []float32, i, j int) []float32 { return buf[(i*4+j)*C : (i*4+j+1)*C] }
	for j := range 4 { // Bᵀ·d, column by column
		bt4(col(t, 0, j), col(t, 1, j), col(t, 2, j), col(t, 3, j), d[j], d[4+j], d[8+j], d[12+j])
	}
	for i := range 4 { // (Bᵀ·d)·B, row by row
		bt4(col(v, i, 0), col(v, i, 1), col(v, i, 2), col(v, i, 3), col(t, i, 0), col(t, i, 1), col(t, i, 2), col(t, i, 3))
	}
}

// bt4 applies Bᵀ to four vectors: o = (i0−i2, i1+i2, i2−i1, i1−i3).
func bt4(o0, o1, o2, o3, i0, i1, i2, i3 []float32) {
	n := len(o0)
	o1, o2, o3 = o1[:n], o2[:n], o3[:n]
	i0, i1, i2, i3 = i0[:n], i1[:n], i2[:n], i3[:n]
	done := 0
	if useAsm && n >= 8 {
		done = n &^ 7
		winoBT4(&o0[0], &o1[0], &o2[0], &o3[0], &i0[0], &i1[0], &i2[0], &i3[0], done)
	}
	for c := done; c < n; c++ {
		a, b, e, f := i0[c], i1[c], i2[c], i3[c]
		o0[c] = a - e
		o1[c] = b + e
		o2[c] = e - b
		o3[c] = b - f
	}
}

// outputTile writes Y = Aᵀ M A, with the epilogue, for the 2×2 tile whose top-left output pixel
// is (oy0, ox0); m is [16][out]. Aᵀ = [[1,1,1,0], [0,1,-1,-1]].
func (w *winograd) outputTile(s *winogradScratch, m []float32, dst *Tensor, oy0, ox0 int) {
	K := w.out
	t := s.tmp[:8*K] // [2][4][out]: Aᵀ·M
	vec := func(buf []float32, i int) []float32 { return buf[i*K : (i+1)*K] }
	for j := range 4 {
		at4(vec(t, j), vec(t, 4+j), vec(m, j), vec(m, 4+j), vec(m, 8+j), vec(m, 12+j))
	}
	for r := range 2 {
		oy := oy0 + r
		y0, y1 := s.trash, s.trash
		if oy < dst.H {
			off := (oy*dst.W + ox0) * K
			y0 = dst.Data[off : off+K]
			if ox0+1 < dst.W {
				y1 = dst.Data[off+K : off+2*K]
			}
		}
		w.at4Epilogue(y0, y1, vec(t, 4*r), vec(t, 4*r+1), vec(t, 4*r+2), vec(t, 4*r+3))
	}
}

// at4 applies Aᵀ to four vectors: o = (i0+i1+i2, i1−i2−i3).
func at4(o0, o1, i0, i1, i2, i3 []float32) {
	n := len(o0)
	o1 = o1[:n]
	i0, i1, i2, i3 = i0[:n], i1[:n], i2[:n], i3[:n]
	done := 0
	if useAsm && n >= 8 {
		done = n &^ 7
		winoAT4(&o0[0], &o1[0], &i0[0], &i1[0], &i2[0], &i3[0], done)
	}
	for c := done; c < n; c++ {
		a, b, e, f := i0[c], i1[c], i2[c], i3[c]
		o0[c] = a + b + e
		o1[c] = b - e - f
	}
}

// at4Epilogue is at4 followed by x·scale+bias and the activation.
func (w *winograd) at4Epilogue(o0, o1, i0, i1, i2, i3 []float32) {
	n := len(o0)
	o1 = o1[:n]
	i0, i1, i2, i3 = i0[:n], i1[:n], i2[:n], i3[:n]
	scale, bias := w.scale[:n], w.bias[:n]
	alpha, hi := w.alpha, w.hi
	done := 0
	if useAsm && n >= 8 {
		done = n &^ 7
		winoAT4Epilogue(&o0[0], &o1[0], &i0[0], &i1[0], &i2[0], &i3[0], &scale[0], &bias[0], done, &w.act)
	}
	for c := done; c < n; c++ {
		a, b, e, f := i0[c], i1[c], i2[c], i3[c]
		x0 := (a+b+e)*scale[c] + bias[c]
		x1 := (b-e-f)*scale[c] + bias[c]
		o0[c] = min(max(x0, alpha*x0), hi)
		o1[c] = min(max(x1, alpha*x1), hi)
	}
}

// winogradPays reports whether a 3×3 stride-1 convolution with these channel counts is faster
// with Winograd than with im2col + gemm. Measured (BenchmarkWinograd and the recognition net's
// BenchmarkDescriptor, docs/benchmarks.md): faster from 32 to 128 channels. At 256 channels (the
// net's 4×4 maps, 4 tiles) the layer alone is faster too, but inside the net it is not: its
// transformed weights are 16/9 the size of the filter (4 MiB) and are streamed from memory for
// only a few tiles.
func winogradPays(in, out int) bool { return in >= 32 && out >= 32 && in <= 128 && out <= 128 }
