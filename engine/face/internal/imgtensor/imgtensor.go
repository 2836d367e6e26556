// Package imgtensor turns decoded images into the RGB float tensors (values 0..255, H×W×3) the
// networks take, with fast paths for the decoders' concrete image types. Alpha is ignored (the
// colour channels are used un-premultiplied, as the reference's decoders deliver them) and grey
// images become R = G = B.
package imgtensor

import (
	"image"
	"image/color"

	"github.com/facecluster/facecluster/engine/internal/nn"
)

// FromImage converts img (its Bounds, whatever their origin) to an RGB tensor.
func FromImage(img image.Image) *nn.Tensor {
	b := img.Bounds()
	return Into(make([]float32, b.Dx()*b.Dy()*3), img)
}

// Into converts img into buf (len ≥ width·height·3, reused by callers that pool buffers; every
// value is overwritten) and returns the tensor over it.
func Into(buf []float32, img image.Image) *nn.Tensor {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	t := &nn.Tensor{H: h, W: w, C: 3, Data: buf[:w*h*3]}
	into(t.Data, img)
	return t
}

// IntoRGB8 is Into with 8-bit values, into buf (len ≥ width·height·3): the same values (all
// whole numbers 0..255) in a quarter of the memory.
func IntoRGB8(buf []uint8, img image.Image) []uint8 {
	b := img.Bounds()
	d := buf[:b.Dx()*b.Dy()*3]
	into(d, img)
	return d
}

func into[T float32 | uint8](d []T, img image.Image) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.YCbCr:
		var lut ycbcrTables
		lut.init()
		// Chroma column of image column x: (x >> hs) relative to the row's first sample.
		hs := 0
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
			hs = 1
		case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
			hs = 2
		}
		x0 := b.Min.X
		for y := range h {
			yrow := m.Y[m.YOffset(x0, b.Min.Y+y):][:w]
			ci0 := m.COffset(x0, b.Min.Y+y) - x0>>hs
			out := d[y*w*3 : (y+1)*w*3]
			for x, yv := range yrow {
				ci := ci0 + (x0+x)>>hs
				o := out[3*x : 3*x+3 : 3*x+3]
				r, g, bl := lut.rgb(yv, m.Cb[ci], m.Cr[ci])
				o[0], o[1], o[2] = T(r), T(g), T(bl)
			}
		}
	case *image.NRGBA:
		for y := range h {
			off := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[off : off+4*w]
			out := d[y*w*3 : (y+1)*w*3]
			for x := range w {
				p, o := row[4*x:4*x+3:4*x+3], out[3*x:3*x+3:3*x+3]
				o[0], o[1], o[2] = T(p[0]), T(p[1]), T(p[2])
			}
		}
	case *image.RGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			out := d[y*w*3 : (y+1)*w*3]
			for x := range w {
				r, g, bl, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 0xff && a != 0 { // un-premultiply
					r, g, bl = unpremul(r, a), unpremul(g, a), unpremul(bl, a)
				}
				out[3*x], out[3*x+1], out[3*x+2] = T(r), T(g), T(bl)
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			out := d[y*w*3 : (y+1)*w*3]
			for x := range w {
				v := T(row[x])
				out[3*x], out[3*x+1], out[3*x+2] = v, v, v
			}
		}
	default:
		for y := range h {
			out := d[y*w*3 : (y+1)*w*3]
			for x := range w {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				out[3*x], out[3*x+1], out[3*x+2] = T(c.R), T(c.G), T(c.B)
			}
		}
	}
}

// ycbcrToRGB converts like the reference's JPEG decoder (jpeg-js): JFIF coefficients in float64,
// clamped and truncated, not rounded as image/color does. Matching it matters because the nets
// see a bilinear resize that samples single pixels of large photos, so a systematic half-level
// difference moves landmarks of whole photos by pixels.
func ycbcrToRGB(y, cb, cr uint8) (r, g, b float32) {
	Y, Cb, Cr := float64(y), float64(cb)-128, float64(cr)-128
	return clamp8(Y + 1.402*Cr), clamp8(Y - 0.3441363*Cb - 0.71413636*Cr), clamp8(Y + 1.772*Cb)
}

// ycbcrTables hold the chroma terms of ycbcrToRGB per Cb/Cr value; the sums and their
// rounding are the same, so the results are identical, several times faster.
type ycbcrTables struct {
	crR, cbG, crG, cbB [256]float64
	// clamped[int(v)+clampOffset] is clamp8(v): int conversion truncates toward zero, which
	// for v < 0 gives a value ≤ 0 (clamped to 0) and otherwise is the truncation wanted.
	clamped [1024]float32
}

const clampOffset = 384 // v ranges over about [-227, 482]

func (t *ycbcrTables) init() {
	for i := range 256 {
		c := float64(i) - 128
		t.crR[i], t.cbG[i], t.crG[i], t.cbB[i] = 1.402*c, 0.3441363*c, 0.71413636*c, 1.772*c
	}
	for i := range t.clamped {
		t.clamped[i] = float32(min(max(i-clampOffset, 0), 255))
	}
}

func (t *ycbcrTables) rgb(y, cb, cr uint8) (r, g, b float32) {
	Y := float64(y)
	return t.clamped[(int(Y+t.crR[cr])+clampOffset)&1023],
		t.clamped[(int(Y-t.cbG[cb]-t.crG[cr])+clampOffset)&1023],
		t.clamped[(int(Y+t.cbB[cb])+clampOffset)&1023]
}

// clamp8 clamps to 0..255 and truncates (the int conversion truncates toward zero, which for
// these non-negative values is math.Trunc, without its function call).
func clamp8(v float64) float32 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return float32(int32(v))
}

func unpremul(v, a uint8) uint8 { return uint8((uint32(v)*0xff + uint32(a)/2) / uint32(a)) }

// Crop copies the rectangle [x, x+w) × [y, y+h) of t, which must lie inside t.
func Crop(t *nn.Tensor, x, y, w, h int) *nn.Tensor {
	out := nn.NewTensor(h, w, t.C)
	rowLen := w * t.C
	for r := range h {
		src := ((y+r)*t.W + x) * t.C
		copy(out.Data[r*rowLen:(r+1)*rowLen], t.Data[src:src+rowLen])
	}
	return out
}
