package nn

import "fmt"

// DepthwiseConv2D convolves each channel with its own kh×kw filter, with the same fused
// epilogue as Conv2D.
type DepthwiseConv2D struct {
	kh, kw, c, stride int
	pad               Padding
	filter            []float32 // [kh,kw,C]
	scale, bias       []float32
	act               Activation
}

// NewDepthwiseConv2D builds a depthwise convolution from a filter [kh,kw,C,1]. scale (nil = 1)
// and bias (nil = 0) are per channel, applied as x·scale+bias, then act. The slices are copied.
func NewDepthwiseConv2D(filter []float32, kh, kw, channels, stride int, pad Padding, scale, bias []float32, act Activation) *DepthwiseConv2D {
	if kh < 1 || kw < 1 || channels < 1 || stride < 1 {
		panic(fmt.Sprintf("nn: NewDepthwiseConv2D: invalid shape %dx%dx%d stride %d", kh, kw, channels, stride))
	}
	if len(filter) != kh*kw*channels {
		panic(fmt.Sprintf("nn: NewDepthwiseConv2D: filter has %d values, want %d", len(filter), kh*kw*channels))
	}
	return &DepthwiseConv2D{
		kh: kh, kw: kw, c: channels, stride: stride, pad: pad,
		filter: append([]float32(nil), filter...),
		scale:  copyChannels("NewDepthwiseConv2D scale", scale, channels),
		bias:   copyChannels("NewDepthwiseConv2D bias", bias, channels),
		act:    act,
	}
}

// OutputShape returns the output height, width and channels for an h×w input.
func (d *DepthwiseConv2D) OutputShape(h, w int) (int, int, int) {
	oh, ow := d.pad.OutputSize(h, w, d.kh, d.kw, d.stride)
	return oh, ow, d.c
}

// Apply returns the depthwise convolution of src in a new tensor.
func (d *DepthwiseConv2D) Apply(src *Tensor) *Tensor {
	oh, ow, oc := d.OutputShape(src.H, src.W)
	dst := NewTensor(max(oh, 0), max(ow, 0), oc)
	d.ApplyTo(dst, src)
	return dst
}

// ApplyTo writes the depthwise convolution of src into dst, which must have the output shape.
func (d *DepthwiseConv2D) ApplyTo(dst, src *Tensor) {
	if src.C != d.c {
		panic(fmt.Sprintf("nn: DepthwiseConv2D: input %s has %d channels, want %d", src.Shape(), src.C, d.c))
	}
	oh, ow := checkWindow("DepthwiseConv2D", src, d.kh, d.kw, d.stride, d.pad)
	if dst.H != oh || dst.W != ow || dst.C != d.c {
		panic(fmt.Sprintf("nn: DepthwiseConv2D: destination %s, want %dx%dx%d", dst.Shape(), oh, ow, d.c))
	}
	C := d.c
	clear(dst.Data)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			acc := dst.Data[(oy*ow+ox)*C : (oy*ow+ox+1)*C]
			for ky := 0; ky < d.kh; ky++ {
				iy := oy*d.stride - d.pad.Top + ky
				if iy < 0 || iy >= src.H {
					continue
				}
				for kx := 0; kx < d.kw; kx++ {
					ix := ox*d.stride - d.pad.Left + kx
					if ix < 0 || ix >= src.W {
						continue
					}
					in := src.Data[(iy*src.W+ix)*C : (iy*src.W+ix+1)*C]
					f := d.filter[(ky*d.kw+kx)*C : (ky*d.kw+kx+1)*C]
					for i := range acc {
						acc[i] += in[i] * f[i]
					}
				}
			}
		}
	}
	epilogue(dst.Data, C, d.scale, d.bias, d.act)
}
