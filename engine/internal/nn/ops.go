package nn

import (
	"fmt"
	"math"
)

// MaxPool takes the maximum over k×k windows; padded positions never win (they are skipped,
// as in TensorFlow).
func MaxPool(src *Tensor, k, stride int, pad Padding) *Tensor {
	oh, ow := checkWindow("MaxPool", src, k, k, stride, pad)
	dst := NewTensor(oh, ow, src.C)
	MaxPoolTo(dst, src, k, stride, pad)
	return dst
}

// MaxPoolTo is MaxPool into dst, which must have the output shape (every value is overwritten):
// for callers that reuse their buffers (a fresh output costs as much as the pooling).
func MaxPoolTo(dst, src *Tensor, k, stride int, pad Padding) {
	oh, ow := checkWindow("MaxPool", src, k, k, stride, pad)
	C := src.C
	if dst.H != oh || dst.W != ow || dst.C != C {
		panic(fmt.Sprintf("nn: MaxPool: destination %s, want %dx%dx%d", dst.Shape(), oh, ow, C))
	}
	asm := (useAVX512 || useAsm && C%8 == 0) && (k == 2 || k == 3)
	pool := maxPool2Pixels
	switch {
	case useAVX512 && k == 3:
		pool = maxPool3PixelsAVX512
	case useAVX512:
		pool = maxPool2PixelsAVX512
	case k == 3:
		pool = maxPool3Pixels
	}
	// Output columns whose windows lie inside the input horizontally.
	x0 := (pad.Left + stride - 1) / stride
	x1 := min(ow, max(x0, (src.W-k+pad.Left)/stride+1))
	if src.W < k {
		x0, x1 = 0, 0
	}
	rowLen := src.W * C
	for oy := 0; oy < oh; oy++ {
		iy := oy*stride - pad.Top
		ox := 0
		if asm && iy >= 0 && iy+k <= src.H && x1 > x0 {
			for ; ox < x0; ox++ {
				maxPixel(dst, src, oy, ox, k, stride, pad)
			}
			off := iy*rowLen + (x0*stride-pad.Left)*C
			last := off + (k-1)*rowLen + ((x1-x0-1)*stride+k-1)*C + C - 1
			_ = src.Data[last] // the kernel's last read
			_ = dst.Data[(oy*ow+x1)*C-1]
			in2 := &src.Data[off] // unused by the 2×2 kernels
			if k == 3 {
				in2 = &src.Data[off+2*rowLen]
			}
			pool(&dst.Data[(oy*ow+x0)*C], &src.Data[off], &src.Data[off+rowLen], in2, x1-x0, C, stride)
			ox = x1
		}
		for ; ox < ow; ox++ {
			maxPixel(dst, src, oy, ox, k, stride, pad)
		}
	}
}

// maxPixel computes one output pixel of MaxPool in Go (borders, other sizes and architectures).
func maxPixel(dst, src *Tensor, oy, ox, k, stride int, pad Padding) {
	C := src.C
	y0, y1 := max(oy*stride-pad.Top, 0), min(oy*stride-pad.Top+k, src.H)
	x0, x1 := max(ox*stride-pad.Left, 0), min(ox*stride-pad.Left+k, src.W)
	out := dst.Data[(oy*dst.W+ox)*C : (oy*dst.W+ox+1)*C]
	for i := range out {
		out[i] = float32(math.Inf(-1))
	}
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			in := src.Data[(y*src.W+x)*C : (y*src.W+x+1)*C]
			for i, v := range in {
				out[i] = max(out[i], v)
			}
		}
	}
}

// AvgPool averages k×k windows. Only the positions inside the input are averaged (padding is
// neither summed nor counted, as TensorFlow's average pool); with zero padding these are VALID
// windows.
func AvgPool(src *Tensor, k, stride int, pad Padding) *Tensor {
	oh, ow := checkWindow("AvgPool", src, k, k, stride, pad)
	C := src.C
	dst := NewTensor(oh, ow, C)
	for oy := 0; oy < oh; oy++ {
		y0, y1 := max(oy*stride-pad.Top, 0), min(oy*stride-pad.Top+k, src.H)
		for ox := 0; ox < ow; ox++ {
			x0, x1 := max(ox*stride-pad.Left, 0), min(ox*stride-pad.Left+k, src.W)
			out := dst.Data[(oy*ow+ox)*C : (oy*ow+ox+1)*C]
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					in := src.Data[(y*src.W+x)*C : (y*src.W+x+1)*C]
					for i, v := range in {
						out[i] += v
					}
				}
			}
			if n := (y1 - y0) * (x1 - x0); n > 0 {
				inv := 1 / float32(n)
				for i := range out {
					out[i] *= inv
				}
			}
		}
	}
	return dst
}

// Add writes a+b element-wise into dst (which may alias a or b). All three must have one shape.
func Add(dst, a, b *Tensor) {
	checkSameShape("Add", dst, a, b)
	elementwise(dst.Data, a.Data, b.Data, true, false)
}

// ReLU replaces negative values of t with zero in place.
func ReLU(t *Tensor) { elementwise(t.Data, t.Data, nil, false, true) }

// AddReLU writes max(a+b, 0) element-wise into dst (which may alias a or b): a residual
// connection and its activation in one pass.
func AddReLU(dst, a, b *Tensor) {
	checkSameShape("AddReLU", dst, a, b)
	elementwise(dst.Data, a.Data, b.Data, true, true)
}

func checkSameShape(op string, dst, a, b *Tensor) {
	if !a.sameShape(b) || !dst.sameShape(a) {
		panic(fmt.Sprintf("nn: %s: shapes %s + %s -> %s differ", op, a.Shape(), b.Shape(), dst.Shape()))
	}
}

// elementwise computes dst = a (+ b) (then max(·, 0)): in assembly where available (all of it
// with AVX-512, the bulk with AVX2), the tail (and other architectures) in Go.
func elementwise(dst, a, b []float32, add, relu bool) {
	n := len(a)
	dst = dst[:n]
	if add {
		b = b[:n]
	}
	done := 0
	switch {
	case useAVX512 && n > 0:
		done = n
		switch {
		case add && relu:
			addReLUVecAVX512(&dst[0], &a[0], &b[0], done)
		case add:
			addVecAVX512(&dst[0], &a[0], &b[0], done)
		default:
			reluVecAVX512(&dst[0], &a[0], &a[0], done)
		}
	case useAsm && n >= 8:
		done = n &^ 7
		switch {
		case add && relu:
			addReLUVec(&dst[0], &a[0], &b[0], done)
		case add:
			addVec(&dst[0], &a[0], &b[0], done)
		default:
			reluVec(&dst[0], &a[0], &a[0], done)
		}
	}
	for i := done; i < n; i++ {
		v := a[i]
		if add {
			v += b[i]
		}
		if relu {
			v = max(v, 0)
		}
		dst[i] = v
	}
}

// GlobalMean returns the mean of each channel over all pixels.
func GlobalMean(t *Tensor) []float32 {
	sum := make([]float64, t.C)
	for off := 0; off < len(t.Data); off += t.C {
		for i, v := range t.Data[off : off+t.C] {
			sum[i] += float64(v)
		}
	}
	out := make([]float32, t.C)
	n := float64(t.H * t.W)
	for i, s := range sum {
		out[i] = float32(s / n)
	}
	return out
}

// FullyConnected returns in·w + bias for a weight matrix w [len(in), out] (row-major) and an
// optional bias (nil = 0).
func FullyConnected(in []float32, w []float32, bias []float32) []float32 {
	if len(in) == 0 || len(w)%len(in) != 0 {
		panic(fmt.Sprintf("nn: FullyConnected: %d weights do not fit %d inputs", len(w), len(in)))
	}
	n := len(w) / len(in)
	if bias != nil && len(bias) != n {
		panic(fmt.Sprintf("nn: FullyConnected: bias has %d values, want %d", len(bias), n))
	}
	out := make([]float32, n)
	copy(out, bias)
	for p, v := range in {
		row := w[p*n : (p+1)*n]
		for j, wv := range row {
			out[j] += v * wv
		}
	}
	return out
}

// PadSpatial returns src with zero rows/columns added as p describes.
func PadSpatial(src *Tensor, p Padding) *Tensor {
	if p.Top < 0 || p.Bottom < 0 || p.Left < 0 || p.Right < 0 {
		panic(fmt.Sprintf("nn: PadSpatial: negative padding %+v", p))
	}
	W := src.W + p.Left + p.Right
	dst := NewTensor(src.H+p.Top+p.Bottom, W, src.C)
	rowLen := src.W * src.C
	for y := 0; y < src.H; y++ {
		off := ((y+p.Top)*W + p.Left) * src.C
		copy(dst.Data[off:off+rowLen], src.Data[y*rowLen:(y+1)*rowLen])
	}
	return dst
}

// PadChannels returns src widened to c channels, the new high channels zero.
func PadChannels(src *Tensor, c int) *Tensor {
	if c < src.C {
		panic(fmt.Sprintf("nn: PadChannels: %d channels < input's %d", c, src.C))
	}
	dst := NewTensor(src.H, src.W, c)
	for i := 0; i < src.H*src.W; i++ {
		copy(dst.Data[i*c:i*c+src.C], src.Data[i*src.C:(i+1)*src.C])
	}
	return dst
}

// ResizeBilinear resizes src to h×w like tfjs's resizeBilinear without corner alignment or
// half-pixel centres: output pixel (y, x) samples the input at (y·inH/h, x·inW/w).
func ResizeBilinear(src *Tensor, h, w int) *Tensor {
	if h < 1 || w < 1 || src.H < 1 || src.W < 1 {
		panic(fmt.Sprintf("nn: ResizeBilinear: %s to %dx%d", src.Shape(), h, w))
	}
	C := src.C
	dst := NewTensor(h, w, C)
	sy, sx := float32(src.H)/float32(h), float32(src.W)/float32(w)
	x0s, x1s, fxs := make([]int, w), make([]int, w), make([]float32, w)
	for x := range w {
		fx := float32(x) * sx
		x0 := int(fx)
		x0s[x], x1s[x], fxs[x] = x0, min(x0+1, src.W-1), fx-float32(x0)
	}
	for y := range h {
		fy := float32(y) * sy
		y0 := int(fy)
		y1 := min(y0+1, src.H-1)
		dy := fy - float32(y0)
		r0, r1 := src.Data[y0*src.W*C:], src.Data[y1*src.W*C:]
		for x := range w {
			a0, a1, dx := x0s[x]*C, x1s[x]*C, fxs[x]
			out := dst.Data[(y*w+x)*C : (y*w+x+1)*C]
			for i := range out {
				tl, tr := r0[a0+i], r0[a1+i]
				bl, br := r1[a0+i], r1[a1+i]
				top := tl + (tr-tl)*dx
				bot := bl + (br-bl)*dx
				out[i] = top + (bot-top)*dy
			}
		}
	}
	return dst
}
