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
	packed            []float32   // per 8-channel slice: 9 taps, scale, bias (3×3, C%8 == 0)
	packed16          []float32   // the same per 16-channel slice, zero-padded (3×3): AVX-512
	actVec            [16]float32 // 8 × alpha, 8 × hi: the activation for the assembly kernels
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
	d := &DepthwiseConv2D{
		kh: kh, kw: kw, c: channels, stride: stride, pad: pad,
		filter: append([]float32(nil), filter...),
		scale:  copyChannels("NewDepthwiseConv2D scale", scale, channels),
		bias:   copyChannels("NewDepthwiseConv2D bias", bias, channels),
		act:    act,
	}
	alpha, hi := actParams(act)
	for i := range 8 {
		d.actVec[i], d.actVec[8+i] = alpha, hi
	}
	if kh == 3 && kw == 3 {
		if channels%8 == 0 {
			d.packed = d.pack3x3(8)
		}
		d.packed16 = d.pack3x3(16)
	}
	return d
}

// pack3x3 lays out a 3×3 filter for the assembly kernels: per slice of `width` channels, the
// nine taps, the scale and the bias (11 vectors), channels past C zero.
func (d *DepthwiseConv2D) pack3x3(width int) []float32 {
	C := d.c
	slices := (C + width - 1) / width
	p := make([]float32, slices*11*width)
	for s := range slices {
		v := p[s*11*width : (s+1)*11*width]
		for i := range min(width, C-s*width) {
			ch := s*width + i
			for t := range 9 {
				v[t*width+i] = d.filter[t*C+ch]
			}
			v[9*width+i] = 1
			if d.scale != nil {
				v[9*width+i] = d.scale[ch]
			}
			if d.bias != nil {
				v[10*width+i] = d.bias[ch]
			}
		}
	}
	return p
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
	switch {
	case useAVX512 && d.packed16 != nil && (d.stride == 1 || d.stride == 2):
		d.apply3x3Asm(dst, src, oh, ow, true)
	case useAsm && d.packed != nil:
		d.apply3x3Asm(dst, src, oh, ow, false)
	default:
		d.applyGo(dst, src, oh, ow)
	}
}

// dwBlock is how many channels (a multiple of 16) the AVX-512 depthwise kernels compute along a
// whole output row at a time: with more, a pixel's channels span several KiB and the kernel
// streams from too many places at once.
var dwBlock = 256

// apply3x3Asm runs an assembly row kernel (AVX-512 with avx512, else AVX2) over the output
// pixels whose 3×3 window lies inside the input horizontally (rows above/below the input read a
// zero row), so that the input is never copied; the few border pixels go through the same
// kernel one by one from a copy of their window with zeros in the padding.
func (d *DepthwiseConv2D) apply3x3Asm(dst, src *Tensor, oh, ow int, avx512 bool) {
	C, p, s := d.c, d.pad, d.stride
	rowLen := src.W * C
	zp := scratch.Get().(*[]float32)
	if cap(*zp) < rowLen+9*C {
		*zp = make([]float32, rowLen+9*C)
	}
	zero := (*zp)[:rowLen]
	clear(zero)
	win := (*zp)[rowLen : rowLen+9*C] // a border pixel's window: 3 rows of 3 pixels
	// kernel computes n pixels from dst.Data[o:] with input rows r0, r1, r2 from index i. The
	// AVX-512 kernels take many channels in blocks of dwBlock along the whole row.
	kernel := func(o int, r0, r1, r2 []float32, i, n int) {
		if !avx512 {
			dw3x3Pixels(&dst.Data[o], &r0[i], &r1[i], &r2[i], &d.packed[0], n, C, s, &d.actVec)
			return
		}
		for b := 0; b < C; b += dwBlock {
			f := dw3x3S1AVX512
			if s == 2 {
				f = dw3x3S2AVX512
			}
			f(&dst.Data[o+b], &r0[i+b], &r1[i+b], &r2[i+b], &d.packed16[b/16*11*16], n, min(dwBlock, C-b), C, &d.actVec)
		}
	}
	border := func(oy, ox int) {
		for ky := range 3 {
			for kx := range 3 {
				px := win[(ky*3+kx)*C : (ky*3+kx+1)*C]
				y, x := oy*s-p.Top+ky, ox*s-p.Left+kx
				if y < 0 || y >= src.H || x < 0 || x >= src.W {
					clear(px)
					continue
				}
				copy(px, src.Data[(y*src.W+x)*C:])
			}
		}
		_ = dst.Data[(oy*ow+ox+1)*C-1]
		kernel((oy*ow+ox)*C, win, win[3*C:], win[6*C:], 0, 1)
	}
	// Interior columns: ox*s - Left >= 0 and ox*s - Left + 2 <= W-1.
	x0 := (p.Left + s - 1) / s
	x1 := min(ow, (src.W-3+p.Left)/s+1) // exclusive
	if src.W < 3 {
		x0, x1 = 0, 0
	}
	for oy := range oh {
		iy := oy*s - p.Top
		if x1 > x0 {
			var rows [3][]float32
			for ky := range 3 {
				if y := iy + ky; y >= 0 && y < src.H {
					rows[ky] = src.Data[y*rowLen : (y+1)*rowLen]
				} else {
					rows[ky] = zero
				}
			}
			off := (x0*s - p.Left) * C
			last := off + ((x1-x0-1)*s+2)*C + C - 1 // the kernel's last read in each row
			_, _, _ = rows[0][last], rows[1][last], rows[2][last]
			_ = dst.Data[(oy*ow+x1)*C-1]
			kernel((oy*ow+x0)*C, rows[0], rows[1], rows[2], off, x1-x0)
		}
		for ox := 0; ox < min(x0, ow); ox++ {
			border(oy, ox)
		}
		for ox := max(x1, x0); ox < ow; ox++ {
			border(oy, ox)
		}
	}
	scratch.Put(zp)
}

// pixelGo computes all channels of one output pixel, epilogue included.
func (d *DepthwiseConv2D) pixelGo(dst, src *Tensor, oy, ox int) {
	C := d.c
	acc := dst.Data[(oy*dst.W+ox)*C : (oy*dst.W+ox+1)*C]
	clear(acc)
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
	epilogue(acc, C, d.scale, d.bias, d.act)
}

// applyGo is the portable depthwise convolution (any kernel size and channel count).
func (d *DepthwiseConv2D) applyGo(dst, src *Tensor, oh, ow int) {
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			d.pixelGo(dst, src, oy, ox)
		}
	}
}
