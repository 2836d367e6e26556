package imageio

import (
	"image"
	"image/color"
	"image/draw"
)

// Orient returns img transformed as the EXIF orientation o (1–8) asks, so that it shows upright.
// Orientation 1 (or an invalid value) returns img itself; otherwise the result is a new *image.NRGBA
// (non-premultiplied, so colours of transparent pixels survive as the reference reads them).
func Orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	src := ToNRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 { // 5–8 swap the axes
		dw, dh = h, w
	}
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	for dy := range dh {
		row := dst.Pix[dy*dst.Stride:]
		for dx := range dw {
			var sx, sy int
			switch o {
			case 2: // mirrored horizontally
				sx, sy = w-1-dx, dy
			case 3: // rotated 180°
				sx, sy = w-1-dx, h-1-dy
			case 4: // mirrored vertically
				sx, sy = dx, h-1-dy
			case 5: // transposed
				sx, sy = dy, dx
			case 6: // needs 90° clockwise
				sx, sy = dy, h-1-dx
			case 7: // transversed
				sx, sy = w-1-dy, h-1-dx
			case 8: // needs 90° counter-clockwise
				sx, sy = w-1-dy, dx
			}
			copy(row[4*dx:4*dx+4], src.Pix[sy*src.Stride+4*sx:])
		}
	}
	return dst
}

// ToNRGBA returns img as an *image.NRGBA with origin (0,0); img itself when it already is one.
func ToNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	if n, ok := img.(*image.NRGBA); ok && b.Min == (image.Point{}) {
		return n
	}
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if src, ok := img.(*image.YCbCr); ok { // JPEG: draw.Draw has no fast path to NRGBA
		for y := range b.Dy() {
			row := dst.Pix[y*dst.Stride:]
			for x := range b.Dx() {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				row[4*x], row[4*x+1], row[4*x+2] = color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				row[4*x+3] = 0xFF
			}
		}
		return dst
	}
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	return dst
}

// ToRGBA returns img as an *image.RGBA with origin (0,0) (for drawing on); a copy, never img.
func ToRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	return dst
}

// ToRGB returns the pixels of img as interleaved 8-bit R,G,B rows (height×width×3, the layout of
// the networks' input tensors). Alpha is dropped without compositing and colours are the
// non-premultiplied ones, as the reference (jpeg-js / pngjs RGBA → RGB) reads them; grey images
// repeat the grey level in the three channels.
func ToRGB(img image.Image) []uint8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]uint8, w*h*3)
	switch src := img.(type) {
	case *image.YCbCr:
		for y := range h {
			o := y * w * 3
			for x := range w {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				out[o], out[o+1], out[o+2] = color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				o += 3
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			o := y * w * 3
			for x := range w {
				copy(out[o:o+3], row[4*x:4*x+3])
				o += 3
			}
		}
	case *image.Gray:
		for y := range h {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			o := y * w * 3
			for x := range w {
				g := row[x]
				out[o], out[o+1], out[o+2] = g, g, g
				o += 3
			}
		}
	default:
		o := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				out[o], out[o+1], out[o+2] = c.R, c.G, c.B
				o += 3
			}
		}
	}
	return out
}
