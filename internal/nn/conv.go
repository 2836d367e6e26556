package nn

import (
	"fmt"
	"sync"

	"github.com/facecluster/facecluster/internal/blas"
)

// Conv2D is a 2-D convolution with a fused per-channel scale, bias and activation. It lowers the
// convolution to a matrix product: the input patches (im2col, skipped for 1×1 stride-1 unpadded
// convolutions) times the HWIO filter, which is already the [kh·kw·in, out] matrix.
type Conv2D struct {
	kh, kw, in, out, stride int
	pad                     Padding
	weights                 *blas.PackedB
	scale, bias             []float32 // len out; scale nil when all ones
	act                     Activation
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
	return &Conv2D{
		kh: kh, kw: kw, in: in, out: out, stride: stride, pad: pad,
		weights: blas.PackB(kh*kw*in, out, filter, out),
		scale:   copyChannels("NewConv2D scale", scale, out),
		bias:    copyChannels("NewConv2D bias", bias, out),
		act:     act,
	}
}

func copyChannels(what string, v []float32, n int) []float32 {
	if v == nil {
		return nil
	}
	if len(v) != n {
		panic(fmt.Sprintf("nn: %s has %d values, want %d", what, len(v), n))
	}
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
	clear(dst.Data)
	k := c.kh * c.kw * c.in
	m := oh * ow
	if c.kh == 1 && c.kw == 1 && c.stride == 1 && c.pad == (Padding{}) {
		blas.SgemmPacked(m, src.Data, k, c.weights, dst.Data, c.out)
	} else {
		bufp := scratch.Get().(*[]float32)
		if cap(*bufp) < m*k {
			*bufp = make([]float32, m*k)
		}
		cols := (*bufp)[:m*k]
		im2col(cols, src, c.kh, c.kw, c.stride, c.pad, oh, ow)
		blas.SgemmPacked(m, cols, k, c.weights, dst.Data, c.out)
		scratch.Put(bufp)
	}
	epilogue(dst.Data, c.out, c.scale, c.bias, c.act)
}

// im2col writes one row per output pixel holding its kh×kw×in input patch (zeros for padding).
func im2col(cols []float32, src *Tensor, kh, kw, stride int, p Padding, oh, ow int) {
	C := src.C
	rowLen := kh * kw * C
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			row := cols[(oy*ow+ox)*rowLen : (oy*ow+ox+1)*rowLen]
			iy0, ix0 := oy*stride-p.Top, ox*stride-p.Left
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
