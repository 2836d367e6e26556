package nets

import (
	"fmt"
	"sync"

	"github.com/facecluster/facecluster/internal/nn"
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
)

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

// squareInput is squareInputTo of a crop, normalising each value as it is written (norm*).
func squareInput(dst *nn.Tensor, img Crop, centre bool, norm int) {
	img.check()
	w, _, C, _ := img.size()
	size := dst.H
	if size < 1 || dst.W != size || dst.C != C || norm == normFace && C != 3 {
		panic(fmt.Sprintf("nets: SquareInput of %dx%dx%d to %s", img.H, img.W, C, dst.Shape()))
	}
	if img.Img != nil {
		resizeSquare(dst, img.Img.Data, w*C, img, C, centre, norm)
	} else {
		resizeSquare(dst, img.Img8.Pix, w*C, img, C, centre, norm)
	}
}

// resizeSquare is squareInput over the crop's pixels pix (rows stride values apart).
func resizeSquare[T float32 | uint8](dst *nn.Tensor, pix []T, stride int, img Crop, C int, centre bool, norm int) {
	size := dst.H
	side := max(img.H, img.W)
	var top, left int
	if centre {
		diff := side - min(img.H, img.W)
		before := diff - (diff+1)/2 // JS Math.round(diff/2) goes after the image
		if img.H < img.W {
			top = before
		} else {
			left = before
		}
	}
	var mean [3]float32
	if norm == normFace {
		mean = recognitionMean
	}
	normalize := func(v float32, c int) float32 {
		switch norm {
		case normSSD:
			return v/127.5 - 1
		case normFace:
			return (v - mean[c]) / 255
		}
		return v
	}
	rowAt := func(y int) []T { // row y of the crop
		off := (img.Y+y)*stride + img.X*C
		return pix[off : off+img.W*C]
	}
	if side == size && img.H == img.W {
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
	zero := make([]T, 0) // rows in the padding: read through sample, which returns 0 for them
	row := func(y int) ([]T, bool) {
		if y < 0 || y >= img.H {
			return zero, false
		}
		return rowAt(y), true
	}
	for y := range size {
		fy := float32(y) * scale
		y0 := int(fy)
		y1 := min(y0+1, side-1)
		dy := fy - float32(y0)
		r0, in0 := row(y0 - top)
		r1, in1 := row(y1 - top)
		out := dst.Data[y*size*C : (y+1)*size*C]
		for x := range size {
			a0, a1, dx := x0s[x], x1s[x], fxs[x]
			o := out[x*C : (x+1)*C]
			if a0 >= 0 && a1 >= 0 && in0 && in1 && C == 3 {
				// The common case, inside the image: three channels without per-sample checks.
				p00, p01 := r0[a0*3:a0*3+3:a0*3+3], r0[a1*3:a1*3+3:a1*3+3]
				p10, p11 := r1[a0*3:a0*3+3:a0*3+3], r1[a1*3:a1*3+3:a1*3+3]
				o := o[:3:3]
				for c := range 3 {
					v00, v01, v10, v11 := float32(p00[c]), float32(p01[c]), float32(p10[c]), float32(p11[c])
					top := v00 + (v01-v00)*dx
					bot := v10 + (v11-v10)*dx
					v := top + (bot-top)*dy
					switch norm {
					case normSSD:
						v = v/127.5 - 1
					case normFace:
						v = (v - mean[c]) / 255
					}
					o[c] = v
				}
				continue
			}
			for c := range o {
				tl, tr := sample(r0, in0, a0, C, c), sample(r0, in0, a1, C, c)
				bl, br := sample(r1, in1, a0, C, c), sample(r1, in1, a1, C, c)
				top := tl + (tr-tl)*dx
				bot := bl + (br-bl)*dx
				o[c] = normalize(top+(bot-top)*dy, c)
			}
		}
	}
}

// inputScratch holds squareInput's per-column tables and zero row between calls.
type inputScratch struct {
	x0s, x1s []int
	fxs      []float32
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

func sample[T float32 | uint8](row []T, inside bool, x, channels, c int) float32 {
	if x < 0 || !inside {
		return 0
	}
	return float32(row[x*channels+c])
}

// normalizeMeanRGB applies (x − mean)/255 per channel in place, in the reference's float32 order.
func normalizeMeanRGB(t *nn.Tensor, mean [3]float32) {
	for i := 0; i < len(t.Data); i += 3 {
		px := t.Data[i : i+3 : i+3]
		px[0] = (px[0] - mean[0]) / 255
		px[1] = (px[1] - mean[1]) / 255
		px[2] = (px[2] - mean[2]) / 255
	}
}
