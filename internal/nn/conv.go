package nn

import (
	"fmt"
	"math"
	"sync"

	"github.com/facecluster/facecluster/internal/blas"
)

// Conv2D is a 2-D convolution with a fused per-channel scale, bias and activation. It lowers the
// convolution to a matrix product: the input patches (im2col; none for 1×1 stride-1 unpadded
// convolutions, whose input already is the matrix) times the HWIO filter, which is already the
// [kh·kw·in, out] matrix. The epilogue runs in the gemm's store. 3×3 stride-1 convolutions
// with the channel counts where it is faster use Winograd minimal filtering instead (winograd.go).
type Conv2D struct {
	kh, kw, in, out, stride int
	pad                     Padding
	weights                 *blas.PackedB
	ep                      *blas.Epilogue
	wino                    *winograd // set where Winograd is faster (winograd.go)
}

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
	return c
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

// applyRows gathers the patches of a batch of output pixels (whole groups of six, about 16 KiB)
// into a buffer and multiplies them in place (small weights: no packed copy of the whole
// im2col matrix).
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
