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
	// Where destination pixel (0,0) comes from, and how the source position moves for one step
	// right (dx) and one step down (dy) in the destination, in source pixels.
	var x0, y0, dxX, dxY, dyX, dyY int
	switch o {
	case 2: // mirrored horizontally
		x0, y0, dxX, dyY = w-1, 0, -1, 1
	case 3: // rotated 180°
		x0, y0, dxX, dyY = w-1, h-1, -1, -1
	case 4: // mirrored vertically
		x0, y0, dxX, dyY = 0, h-1, 1, -1
	case 5: // transposed
		x0, y0, dxY, dyX = 0, 0, 1, 1
	case 6: // needs 90° clockwise
		x0, y0, dxY, dyX = 0, h-1, -1, 1
	case 7: // transversed
		x0, y0, dxY, dyX = w-1, h-1, -1, -1
	case 8: // needs 90° counter-clockwise
		x0, y0, dxY, dyX = w-1, 0, 1, -1
	}
	stepX := 4*dxX + src.Stride*dxY // source bytes per destination step right
	stepY := 4*dyX + src.Stride*dyY // source bytes per destination step down
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	rowStart := y0*src.Stride + 4*x0
	for dy := range dh {
		d := dst.Pix[dy*dst.Stride : dy*dst.Stride+4*dw]
		si := rowStart
		for di := 0; di < len(d); di += 4 {
			p := src.Pix[si : si+4]
			d[di], d[di+1], d[di+2], d[di+3] = p[0], p[1], p[2], p[3]
			si += stepX
		}
		rowStart += stepY
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
	if src, ok := img.(*image.YCbCr); ok && ycbcrRows(src, dst.Pix, dst.Stride, 4) { // JPEG: draw.Draw has no fast path to NRGBA
		for i := 3; i < len(dst.Pix); i += 4 {
			dst.Pix[i] = 0xFF
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
		if !ycbcrRows(src, out, w*3, 3) {
			genericRGB(img, out)
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
	case *image.RGBA: // PNG truecolour without alpha, BMP: opaque pixels are already straight RGB
		for y := range h {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			o := y * w * 3
			for x := range w {
				p := row[4*x : 4*x+4]
				if p[3] == 0xFF {
					out[o], out[o+1], out[o+2] = p[0], p[1], p[2]
				} else {
					c := color.NRGBAModel.Convert(color.RGBA{p[0], p[1], p[2], p[3]}).(color.NRGBA)
					out[o], out[o+1], out[o+2] = c.R, c.G, c.B
				}
				o += 3
			}
		}
	case *image.Paletted: // GIF, palette PNG: convert the palette once
		var lut [256][3]uint8
		for i, c := range src.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := range h {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			o := y * w * 3
			for x := range w {
				// decoders reject indices beyond the palette; black rather than a panic
				c := lut[row[x]]
				if int(row[x]) >= len(src.Palette) {
					c = [3]uint8{}
				}
				out[o], out[o+1], out[o+2] = c[0], c[1], c[2]
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
		genericRGB(img, out)
	}
	return out
}

func genericRGB(img image.Image, out []uint8) {
	b := img.Bounds()
	o := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out[o], out[o+1], out[o+2] = c.R, c.G, c.B
			o += 3
		}
	}
}

// ycbcrRows converts src to RGB into dst (rows of stride bytes, step bytes per pixel), row by row
// with the chroma subsampling resolved once per row rather than per pixel (COffset per pixel
// costs as much as the conversion). It reports false, doing nothing, for a subsample ratio or a
// negative origin it does not handle.
func ycbcrRows(src *image.YCbCr, dst []uint8, stride, step int) bool {
	var sx, sy uint // chroma shifts
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		sx = 1
	case image.YCbCrSubsampleRatio420:
		sx, sy = 1, 1
	case image.YCbCrSubsampleRatio440:
		sy = 1
	case image.YCbCrSubsampleRatio411:
		sx = 2
	case image.YCbCrSubsampleRatio410:
		sx, sy = 2, 1
	default:
		return false
	}
	r := src.Rect
	if r.Min.X < 0 || r.Min.Y < 0 {
		return false
	}
	w := r.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		yRow := src.Y[(y-r.Min.Y)*src.YStride:][:w]
		cBase := (y>>sy - r.Min.Y>>sy) * src.CStride
		cb, cr := src.Cb[cBase:], src.Cr[cBase:]
		c0 := r.Min.X >> sx
		row := dst[(y-r.Min.Y)*stride:]
		for x, yy := range yRow {
			ci := (r.Min.X+x)>>sx - c0
			o := x * step
			row[o], row[o+1], row[o+2] = color.YCbCrToRGB(yy, cb[ci], cr[ci])
		}
	}
	return true
}
