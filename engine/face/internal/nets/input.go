package nets

import (
	"fmt"
	"math"
	"sync"

	"github.com/facecluster/facecluster/engine/internal/nn"
)

// SquareInput pads img with zeros to a square and resizes it bilinearly to size×size, as
// face-api.js's NetInput.toBatchTensor does before every network. With centre the short side is
// padded on both sides (round(diff/2) after, the rest before: padToSquare(…, true)); otherwise
// only at the bottom/right (the detectors). The padded square is never materialised: samples
// that fall into the padding read zero, with exactly the arithmetic of nn.ResizeBilinear.
func SquareInput(img *nn.Tensor, size int, centre bool) *nn.Tensor {
	dst := nn.NewTensor(size, size, img.C)
	squareInputTo(dst, img, centre)
	return dst
}

// squareInputTo is SquareInput into dst (size×size×img.C; every value is overwritten).
func squareInputTo(dst, img *nn.Tensor, centre bool) { squareInput(dst, Whole(img), centre, normNone) }

// faceInputTo is squareInputTo of a crop, centred, followed by normalizeMeanRGB with
// recognitionMean in the same pass (the same float32 operations): the landmark and recognition
// nets' input.
func faceInputTo(dst *nn.Tensor, c Crop) { squareInput(dst, c, true, normFace) }

// The normalisations squareInput applies to each value as it writes it.
const (
	normNone = iota
	normSSD  // x/127.5 − 1 (SSD's, in the same pass as the resize: the same float32 operations as the two in turn)
	normFace // (x − recognitionMean[c])/255 (3 channels)
	normTiny // (x − tinyMean[c])/255 (3 channels): TinyFaceDetector's normalizeMeanRGB
)

// tinyMean is the per-channel RGB mean TinyFaceDetector subtracts from its input.
var tinyMean = [3]float32{117.001, 114.697, 97.404}

// RGB8 is an image as 8-bit RGB, 3 bytes per pixel row by row: how the engine keeps a photo
// (a quarter of the float tensor's size; every value the decoders give is a whole 0..255).
type RGB8 struct {
	W, H int
	Pix  []uint8 // len W·H·3
}

// Crop is the W×H rectangle whose top-left pixel is (X, Y) of Img or, when Img is nil, of
// Img8, read in place: the nets take a photo or crops of it without copying them.
type Crop struct {
	Img        *nn.Tensor
	Img8       *RGB8
	X, Y, W, H int
}

// Whole is the crop of all of img.
func Whole(img *nn.Tensor) Crop { return Crop{Img: img, W: img.W, H: img.H} }

// Whole8 is the crop of all of img.
func Whole8(img *RGB8) Crop { return Crop{Img8: img, W: img.W, H: img.H} }

// size returns the width, height and channels of the image the crop is of.
func (c Crop) size() (w, h, ch int, ok bool) {
	switch {
	case c.Img != nil:
		return c.Img.W, c.Img.H, c.Img.C, true
	case c.Img8 != nil && len(c.Img8.Pix) >= c.Img8.W*c.Img8.H*3:
		return c.Img8.W, c.Img8.H, 3, true
	}
	return 0, 0, 0, false
}

func (c Crop) check() {
	w, h, ch, ok := c.size()
	if !ok || c.W < 1 || c.H < 1 || c.X < 0 || c.Y < 0 || c.X+c.W > w || c.Y+c.H > h {
		panic(fmt.Sprintf("nets: crop %dx%d at (%d, %d) of a %dx%dx%d image", c.W, c.H, c.X, c.Y, h, w, ch))
	}
}

// canvas is the square a crop is placed on before it is resized to a net's input: side×side
// source pixels with the crop's top-left pixel at (left, top) and fill (in 0..255 units)
// everywhere else.
type canvas struct {
	side, top, left int
	fill            float32
}

// squareCanvas is the reference's padToSquare of a w×h crop: the short side padded with zeros
// to the long one, on both sides with centre (round(diff/2) after, the rest before), otherwise
// only at the bottom/right.
func squareCanvas(w, h int, centre bool) canvas {
	cv := canvas{side: max(w, h)}
	if centre {
		diff := cv.side - min(w, h)
		before := diff - (diff+1)/2 // JS Math.round(diff/2) goes after the image
		if h < w {
			cv.top = before
		} else {
			cv.left = before
		}
	}
	return cv
}

// paddedCanvas centres a w×h crop on a square margin·(long side) wider than the crop's long
// side on each side, filled with mid-grey (127.5: what SSD's x/127.5 − 1 maps to 0, the
// mean of its training input). A face that fills the photo then takes 1/(1+2·margin) of the
// network's input: the scale SSD was trained on, where the bare photo has it too large.
func paddedCanvas(w, h int, margin float64) canvas {
	long := max(w, h)
	side := long + 2*int(math.Round(margin*float64(long)))
	return canvas{side: side, top: (side - h) / 2, left: (side - w) / 2, fill: 127.5}
}

// squareInput is squareInputTo of a crop, normalising each value as it is written (norm*).
func squareInput(dst *nn.Tensor, img Crop, centre bool, norm int) {
	squareInputOn(dst, img, squareCanvas(img.W, img.H, centre), norm)
}

// squareInputOn resizes the crop placed on cv to dst, normalising each value as it is written.
func squareInputOn(dst *nn.Tensor, img Crop, cv canvas, norm int) {
	img.check()
	w, _, C, _ := img.size()
	size := dst.H
	if size < 1 || dst.W != size || dst.C != C || (norm == normFace || norm == normTiny) && C != 3 {
		panic(fmt.Sprintf("nets: SquareInput of %dx%dx%d to %s", img.H, img.W, C, dst.Shape()))
	}
	if cv.side < max(img.W, img.H) || cv.top < 0 || cv.left < 0 || cv.top+img.H > cv.side || cv.left+img.W > cv.side {
		panic(fmt.Sprintf("nets: %dx%d crop outside its canvas %+v", img.W, img.H, cv))
	}
	if img.Img != nil {
		resizeSquare(dst, img.Img.Data, w*C, img, C, cv, norm)
	} else {
		resizeSquare(dst, img.Img8.Pix, w*C, img, C, cv, norm)
	}
}

// resizeSquare is squareInputOn over the crop's pixels pix (rows stride values apart).
func resizeSquare[T float32 | uint8](dst *nn.Tensor, pix []T, stride int, img Crop, C int, cv canvas, norm int) {
	size := dst.H
	side, top, left, fill := cv.side, cv.top, cv.left, cv.fill
	var mean [3]float32
	switch norm {
	case normFace:
		mean = recognitionMean
	case normTiny:
		mean = tinyMean
	}
	normalize := func(v float32, c int) float32 {
		switch norm {
		case normSSD:
			return v/127.5 - 1
		case normFace, normTiny:
			return (v - mean[c]) / 255
		}
		return v
	}
	rowAt := func(y int) []T { // row y of the crop
		off := (img.Y+y)*stride + img.X*C
		return pix[off : off+img.W*C]
	}
	if side == size && img.H == img.W && top == 0 && left == 0 {
		for y := range size {
			out := dst.Data[y*size*C : (y+1)*size*C]
			for i, v := range rowAt(y) {
				out[i] = normalize(float32(v), i%C)
			}
		}
		return
	}
	scale := float32(side) / float32(size)
	sc := inputScratchPool.Get().(*inputScratch)
	defer inputScratchPool.Put(sc)
	// Per output column: the two source columns (-1 when in the padding) and the weight.
	sc.x0s, sc.x1s, sc.fxs = growInts(sc.x0s, size), growInts(sc.x1s, size), growFloats(sc.fxs, size)
	x0s, x1s, fxs := sc.x0s, sc.x1s, sc.fxs
	for x := range size {
		fx := float32(x) * scale
		x0 := int(fx)
		x1 := min(x0+1, side-1)
		x0s[x], x1s[x], fxs[x] = srcIndex(x0-left, img.W), srcIndex(x1-left, img.W), fx-float32(x0)
	}
	// The horizontal pass of a source row (the top and bottom values of the bilinear formula,
	// the same float32 operations) is computed once per row used and kept for the next output
	// row: two rows cached, the older replaced (output rows read source rows in order). Rows in
	// the padding interpolate the fill: the fill.
	n := size * C
	sc.h[0], sc.h[1], sc.fill = growFloats(sc.h[0], n), growFloats(sc.h[1], n), growFloats(sc.fill, n)
	for i := range sc.fill {
		sc.fill[i] = fill
	}
	tags := [2]int{-1, -1}
	horizontal := func(y int) []float32 {
		if y < 0 || y >= img.H {
			return sc.fill
		}
		if tags[0] == y {
			return sc.h[0]
		}
		if tags[1] == y {
			return sc.h[1]
		}
		slot := 0
		if tags[1] < tags[0] {
			slot = 1
		}
		tags[slot] = y
		h, r := sc.h[slot], rowAt(y)
		for x := range size {
			a0, a1, dx := x0s[x], x1s[x], fxs[x]
			if a0 >= 0 && a1 >= 0 && C == 3 {
				// The common case, inside the image: three channels without per-sample checks.
				p0, p1 := r[a0*3:a0*3+3:a0*3+3], r[a1*3:a1*3+3:a1*3+3]
				o := h[x*3 : x*3+3 : x*3+3]
				for c := range 3 {
					v0, v1 := float32(p0[c]), float32(p1[c])
					o[c] = v0 + (v1-v0)*dx
				}
				continue
			}
			for c := range C {
				v0, v1 := sample(r, a0, C, c, fill), sample(r, a1, C, c, fill)
				h[x*C+c] = v0 + (v1-v0)*dx
			}
		}
		return h
	}
	for y := range size {
		fy := float32(y) * scale
		y0 := int(fy)
		y1 := min(y0+1, side-1)
		dy := fy - float32(y0)
		out := dst.Data[y*n : (y+1)*n]
		h0, h1 := horizontal(y0 - top)[:len(out)], horizontal(y1 - top)[:len(out)]
		switch norm {
		case normNone:
			for i := range out {
				out[i] = h0[i] + (h1[i]-h0[i])*dy
			}
		case normSSD:
			for i := range out {
				out[i] = (h0[i]+(h1[i]-h0[i])*dy)/127.5 - 1
			}
		default: // normFace, normTiny: 3 channels
			for i := 0; i+3 <= len(out); i += 3 {
				t, b, o := h0[i:i+3:i+3], h1[i:i+3:i+3], out[i:i+3:i+3]
				o[0] = (t[0] + (b[0]-t[0])*dy - mean[0]) / 255
				o[1] = (t[1] + (b[1]-t[1])*dy - mean[1]) / 255
				o[2] = (t[2] + (b[2]-t[2])*dy - mean[2]) / 255
			}
		}
	}
}

// inputScratch holds squareInput's per-column tables and zero row between calls.
type inputScratch struct {
	x0s, x1s []int
	fxs      []float32
	h        [2][]float32 // horizontal passes of two source rows
	fill     []float32    // the horizontal pass of a row in the padding
}

var inputScratchPool = sync.Pool{New: func() any { return new(inputScratch) }}

func growInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func growFloats(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func srcIndex(x, w int) int {
	if x < 0 || x >= w {
		return -1
	}
	return x
}

// sample is channel c of pixel x of row, or fill when x is -1 (in the padding).
func sample[T float32 | uint8](row []T, x, channels, c int, fill float32) float32 {
	if x < 0 {
		return fill
	}
	return float32(row[x*channels+c])
}

// normalizeMeanRGB applies (x − mean)/255 per channel in place, in the reference's float32 order
// (squareInput does it in the same pass: normFace, normTiny; the tests compare the two).
func normalizeMeanRGB(t *nn.Tensor, mean [3]float32) {
	for i := 0; i < len(t.Data); i += 3 {
		px := t.Data[i : i+3 : i+3]
		px[0] = (px[0] - mean[0]) / 255
		px[1] = (px[1] - mean[1]) / 255
		px[2] = (px[2] - mean[2]) / 255
	}
}
