package nn

import (
	"fmt"
	"math"
	"sync"

	"github.com/facecluster/facecluster/engine/internal/blas"
)

// Conv2D is a 2-D convolution with a fused per-channel scale, bias and activation. It lowers the
// convolution to a matrix product: the input patches (im2col; none for 1×1 stride-1 unpadded
// convolutions, whose input already is the matrix) times the HWIO filter, which is already the
// [kh·kw·in, out] matrix. The epilogue runs in the gemm's store. 3×3 stride-1 convolutions
// with the channel counts where it is faster use Winograd minimal filtering instead (winograd.go),
// and with AVX-512 layers with at most directMaxIn input channels a direct kernel (outputs in
// blocks of 32 channels, or of 16 when not a multiple of 32); without it (or for outputs not in
// multiples of 16) those read their patches from a strip layout in place of im2col (convstrip.go).
type Conv2D struct {
	kh, kw, in, out, stride int
	pad                     Padding
	weights                 *blas.PackedB
	ep                      *blas.Epilogue
	wino                    *winograd // set where Winograd is faster (winograd.go)
	direct                  []float32 // few input channels: the direct AVX-512 kernel's weights
	directW                 int       // the output channels per direct kernel call: 32, or 16 (out%32 != 0)
	act                     [16]float32
	strip                   *blas.PackedB // few input channels (without AVX-512): the filter in strip order (convstrip.go)
}

// directMaxIn is the most input channels for which Conv2D computes directly (AVX-512) instead of
// im2col + gemm: the nets' first layers on RGB, whose im2col copies runs of 3·kw floats per
// output pixel and whose gemm has a K of only 27–147.
const directMaxIn = 4

// NewConv2D builds a convolution from an HWIO filter [kh,kw,in,out]. scale (nil = 1) and bias
// (nil = 0) are per output channel and applied as x·scale+bias after the convolution, followed by
// act. The slices are copied.
func NewConv2D(filter []float32, kh, kw, in, out, stride int, pad Padding, scale, bias []float32, act Activation) *Conv2D {
	if kh < 1 || kw < 1 || in < 1 || out < 1 || stride < 1 {
		panic(fmt.Sprintf("nn: NewConv2D: invalid shape %dx%dx%dx%d stride %d", kh, kw, in, out, stride))
	}
	if len(filter) != kh*kw*in*out {
		panic(fmt.Sprintf("nn: NewConv2D: filter has %d values, want %d", len(filter), kh*kw*in*out))
	}
	checkChannels("NewConv2D scale", scale, out)
	checkChannels("NewConv2D bias", bias, out)
	c := &Conv2D{
		kh: kh, kw: kw, in: in, out: out, stride: stride, pad: pad,
		weights: blas.PackB(kh*kw*in, out, filter, out),
		ep:      newEpilogue(out, scale, bias, act),
	}
	if m := winogradTile(in, out); kh == 3 && kw == 3 && stride == 1 && m > 0 {
		c.wino = newWinograd(m, filter, in, out, pad, scale, bias, act)
	}
	if in <= directMaxIn && out%16 == 0 {
		c.packDirect(filter, scale, bias, act)
	}
	if useStrip(kh, kw, in, out, stride) {
		c.strip = packStrip(filter, kh, kw, in, out)
	}
	return c
}

// packDirect lays out the filter for convSmallRowAVX512 (convSmallRow16AVX512 when the output
// channels are not a multiple of 32): per block of bw = 32 (16) output channels, the kh·kw·in
// filter rows restricted to the block, then its bw scales and bw biases.
func (c *Conv2D) packDirect(filter, scale, bias []float32, act Activation) {
	bw := 32
	if c.out%32 != 0 {
		bw = 16
	}
	c.directW = bw
	rows := c.kh * c.kw * c.in
	blk := rows*bw + 2*bw
	c.direct = make([]float32, c.out/bw*blk)
	for b := range c.out / bw {
		v := c.direct[b*blk : (b+1)*blk]
		for r := range rows {
			copy(v[r*bw:(r+1)*bw], filter[r*c.out+b*bw:])
		}
		for i := range bw {
			v[rows*bw+i] = 1
			if scale != nil {
				v[rows*bw+i] = scale[b*bw+i]
			}
			if bias != nil {
				v[rows*bw+bw+i] = bias[b*bw+i]
			}
		}
	}
	alpha, hi := actParams(act)
	for i := range 8 {
		c.act[i], c.act[8+i] = alpha, hi
	}
}

// applyDirect runs the direct kernel over each output row's pixels whose window lies inside
// the input, in place; the border pixels (windows reaching into the padding) one by one from a
// copy of their window with zeros in the padding.
func (c *Conv2D) applyDirect(dst, src *Tensor, oh, ow int) {
	kh, kw, in, s, p := c.kh, c.kw, c.in, c.stride, c.pad
	seg := kw * in
	rows := kh * seg
	bw := c.directW
	blk := rows*bw + 2*bw
	kernel := convSmallRowAVX512
	if bw == 16 {
		kernel = convSmallRow16AVX512
	}
	rs := src.W * in
	winp := scratch.Get().(*[]float32)
	if cap(*winp) < rows {
		*winp = make([]float32, rows)
	}
	win := (*winp)[:rows]
	// Interior columns: ox·s − Left ≥ 0 and ox·s − Left + kw ≤ W.
	x0 := min((p.Left+s-1)/s, ow)
	x1 := max(x0, min(ow, (src.W-kw+p.Left)/s+1))
	if src.W < kw {
		x1 = x0
	}
	pixel := func(oy, ox int) {
		iy0, ix0 := oy*s-p.Top, ox*s-p.Left
		for ky := range kh {
			row := win[ky*seg : (ky+1)*seg]
			y := iy0 + ky
			if y < 0 || y >= src.H {
				clear(row)
				continue
			}
			for kx := range kw {
				x := ix0 + kx
				if x < 0 || x >= src.W {
					clear(row[kx*in : (kx+1)*in])
					continue
				}
				copy(row[kx*in:(kx+1)*in], src.Data[(y*src.W+x)*in:])
			}
		}
		_ = dst.Data[(oy*ow+ox+1)*c.out-1]
		for b := range c.out / bw {
			kernel(&dst.Data[(oy*ow+ox)*c.out+b*bw], &win[0], &c.direct[b*blk], 1, 0, seg, kh, seg, c.out, &c.act)
		}
	}
	for oy := range oh {
		iy0 := oy*s - p.Top
		if iy0 < 0 || iy0+kh > src.H || x1 == x0 {
			for ox := range ow {
				pixel(oy, ox)
			}
			continue
		}
		for ox := range x0 {
			pixel(oy, ox)
		}
		off := iy0*rs + (x0*s-p.Left)*in
		_ = src.Data[off+(x1-x0-1)*s*in+(kh-1)*rs+seg-1] // the kernel's last read
		_ = dst.Data[(oy*ow+x1)*c.out-1]
		for b := range c.out / bw {
			kernel(&dst.Data[(oy*ow+x0)*c.out+b*bw], &src.Data[off], &c.direct[b*blk], x1-x0, s*in, rs, kh, seg, c.out, &c.act)
		}
		for ox := x1; ox < ow; ox++ {
			pixel(oy, ox)
		}
	}
	scratch.Put(winp)
}

// newEpilogue expresses scale, bias and the activation as blas's max(x, alpha·x) then min(x, hi).
func newEpilogue(n int, scale, bias []float32, act Activation) *blas.Epilogue {
	alpha, hi := actParams(act)
	return blas.NewEpilogue(n, scale, bias, alpha, hi)
}

// actParams expresses an activation as min(max(x, alpha·x), hi).
func actParams(act Activation) (alpha, hi float32) {
	switch act {
	case ActReLU:
		return 0, float32(math.Inf(1))
	case ActReLU6:
		return 0, 6
	case ActLeaky:
		return LeakyAlpha, float32(math.Inf(1))
	}
	return 1, float32(math.Inf(1))
}

func checkChannels(what string, v []float32, n int) {
	if v != nil && len(v) != n {
		panic(fmt.Sprintf("nn: %s has %d values, want %d", what, len(v), n))
	}
}

func copyChannels(what string, v []float32, n int) []float32 {
	if v == nil {
		return nil
	}
	checkChannels(what, v, n)
	return append([]float32(nil), v...)
}

// OutputShape returns the output height, width and channels for an h×w input.
func (c *Conv2D) OutputShape(h, w int) (int, int, int) {
	oh, ow := c.pad.OutputSize(h, w, c.kh, c.kw, c.stride)
	return oh, ow, c.out
}

// Apply returns the convolution of src in a new tensor.
func (c *Conv2D) Apply(src *Tensor) *Tensor {
	oh, ow, oc := c.OutputShape(src.H, src.W)
	dst := NewTensor(max(oh, 0), max(ow, 0), oc)
	c.ApplyTo(dst, src)
	return dst
}

// scratch holds reusable im2col buffers so that steady-state inference does not allocate.
var scratch = sync.Pool{New: func() any { return new([]float32) }}

// ApplyTo writes the convolution of src into dst, which must have the output shape.
func (c *Conv2D) ApplyTo(dst, src *Tensor) {
	if src.C != c.in {
		panic(fmt.Sprintf("nn: Conv2D: input %s has %d channels, want %d", src.Shape(), src.C, c.in))
	}
	oh, ow := checkWindow("Conv2D", src, c.kh, c.kw, c.stride, c.pad)
	if dst.H != oh || dst.W != ow || dst.C != c.out {
		panic(fmt.Sprintf("nn: Conv2D: destination %s, want %dx%dx%d", dst.Shape(), oh, ow, c.out))
	}
	if c.wino != nil {
		c.wino.applyTo(dst, src)
		return
	}
	if useAVX512 && c.direct != nil {
		c.applyDirect(dst, src, oh, ow)
		return
	}
	if c.strip != nil {
		c.applyStrip(dst, src, oh, ow)
		return
	}
	k := c.kh * c.kw * c.in
	m := oh * ow
	if c.kh == 1 && c.kw == 1 && c.stride == 1 && c.pad == (Padding{}) {
		if c.weights.PreferRows() && k < 64 {
			blas.SgemmRows(m, src.Data, k, c.weights, c.ep, dst.Data, c.out)
		} else {
			blas.SgemmEpilogue(m, src.Data, k, c.weights, c.ep, dst.Data, c.out)
		}
		return
	}
	if c.weights.PreferRows() {
		c.applyRows(dst, src, oh, ow)
		return
	}
	bufp := scratch.Get().(*[]float32)
	if cap(*bufp) < m*k {
		*bufp = make([]float32, m*k)
	}
	cols := (*bufp)[:m*k]
	for i := range m {
		oy, ox := i/ow, i%ow
		patch(cols[i*k:(i+1)*k], src, c.kh, c.kw, oy*c.stride-c.pad.Top, ox*c.stride-c.pad.Left)
	}
	blas.SgemmEpilogue(m, cols, k, c.weights, c.ep, dst.Data, c.out)
	scratch.Put(bufp)
}

// applyRows gathers the patches of a batch of output pixels (whole panels of blas.PanelRows,
// about 16 KiB) into a buffer and multiplies them in place (small weights: no packed copy of
// the whole im2col matrix).
func (c *Conv2D) applyRows(dst, src *Tensor, oh, ow int) {
	k := c.kh * c.kw * c.in
	const pr = blas.PanelRows
	batch := max(pr, (4096/k)/pr*pr)
	bufp := scratch.Get().(*[]float32)
	if cap(*bufp) < batch*k {
		*bufp = make([]float32, batch*k)
	}
	rows := (*bufp)[:batch*k]
	m := oh * ow
	for base := 0; base < m; base += batch {
		n := min(batch, m-base)
		for r := range n {
			oy, ox := (base+r)/ow, (base+r)%ow
			patch(rows[r*k:(r+1)*k], src, c.kh, c.kw, oy*c.stride-c.pad.Top, ox*c.stride-c.pad.Left)
		}
		blas.SgemmRows(n, rows, k, c.weights, c.ep, dst.Data[base*c.out:], c.out)
	}
	scratch.Put(bufp)
}

// patch copies the kh×kw×C window whose top-left input position is (iy0, ix0).
func patch(row []float32, src *Tensor, kh, kw, iy0, ix0 int) {
	C := src.C
	seg := kw * C
	if iy0 >= 0 && ix0 >= 0 && iy0+kh <= src.H && ix0+kw <= src.W {
		// Interior: kh contiguous runs.
		off := (iy0*src.W + ix0) * C
		stride := src.W * C
		for ky := range kh {
			copy(row[ky*seg:(ky+1)*seg], src.Data[off+ky*stride:off+ky*stride+seg])
		}
		return
	}
	for ky := 0; ky < kh; ky++ {
		seg := row[ky*kw*C : (ky+1)*kw*C]
		iy := iy0 + ky
		if iy < 0 || iy >= src.H {
			clear(seg)
			continue
		}
		// Columns inside the image are one contiguous run of the source row.
		x0, x1 := max(ix0, 0), min(ix0+kw, src.W)
		if x1 <= x0 {
			clear(seg)
			continue
		}
		clear(seg[:(x0-ix0)*C])
		copy(seg[(x0-ix0)*C:(x1-ix0)*C], src.Data[(iy*src.W+x0)*C:(iy*src.W+x1)*C])
		clear(seg[(x1-ix0)*C:])
	}
}

// epilogue applies x·scale+bias and the activation to every pixel of an NHWC buffer.
func epilogue(data []float32, channels int, scale, bias []float32, act Activation) {
	if scale == nil && bias == nil && act == ActNone {
		return
	}
	for off := 0; off < len(data); off += channels {
		px := data[off : off+channels]
		if scale != nil {
			for i := range px {
				px[i] *= scale[i]
			}
		}
		if bias != nil {
			for i := range px {
				px[i] += bias[i]
			}
		}
		switch act {
		case ActReLU:
			for i, v := range px {
				px[i] = max(v, 0)
			}
		case ActReLU6:
			for i, v := range px {
				px[i] = min(max(v, 0), 6)
			}
		case ActLeaky:
			for i, v := range px {
				if v < 0 {
					px[i] = v * LeakyAlpha
				}
			}
		}
	}
}
