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

// ssdInputTo is squareInputTo (padding at the bottom/right) followed by SSD's normalisation
// x/127.5 − 1, in one pass over dst: the same float32 operations as the two done in turn.
func ssdInputTo(dst, img *nn.Tensor) { squareInput(dst, Whole(img), false, normSSD) }

// faceInputTo is squareInputTo of a crop, centred, followed by normalizeMeanRGB with
// recognitionMean in the same pass (the same float32 operations): the landmark and recognition
// nets' input.
func faceInputTo(dst *nn.Tensor, c Crop) { squareInput(dst, c, true, normFace) }

// The normalisations squareInput applies to each value as it writes it.
const (
	normNone = iota
	normSSD  // x/127.5 − 1
	normFace // (x − recognitionMean[c])/255 (3 channels)
)

// Crop is the W×H rectangle of Img whose top-left pixel is (X, Y), read in place: the nets
// that take face crops read them out of the photo without copying them.
type Crop struct {
	Img        *nn.Tensor
	X, Y, W, H int
}

// Whole is the crop of all of img.
func Whole(img *nn.Tensor) Crop { return Crop{Img: img, W: img.W, H: img.H} }

func (c Crop) check() {
	if c.Img == nil || c.W < 1 || c.H < 1 || c.X < 0 || c.Y < 0 || c.X+c.W > c.Img.W || c.Y+c.H > c.Img.H {
		shape := "no image"
		if c.Img != nil {
			shape = c.Img.Shape()
		}
		panic(fmt.Sprintf("nets: crop %dx%d at (%d, %d) of %s", c.W, c.H, c.X, c.Y, shape))
	}
}

// squareInput is squareInputTo of a crop, normalising each value as it is written (norm*).
func squareInput(dst *nn.Tensor, img Crop, centre bool, norm int) {
	size := dst.H
	if img.Img != nil && (size < 1 || dst.W != size || dst.C != img.Img.C || norm == normFace && dst.C != 3) {
		panic(fmt.Sprintf("nets: SquareInput of %dx%dx%d to %s", img.H, img.W, img.Img.C, dst.Shape()))
	}
	img.check()
	C := img.Img.C
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
	stride := img.Img.W * C
	rowAt := func(y int) []float32 { // row y of the crop
		off := (img.Y+y)*stride + img.X*C
		return img.Img.Data[off : off+img.W*C]
	}
	if side == size && img.H == img.W {
		for y := range size {
			out := dst.Data[y*size*C : (y+1)*size*C]
			copy(out, rowAt(y))
			if norm != normNone {
				for i, v := range out {
					out[i] = normalize(v, i%C)
				}
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
	sc.zero = growFloats(sc.zero, img.W*C)
	zero := sc.zero
	clear(zero)
	row := func(y int) []float32 {
		if y < 0 || y >= img.H {
			return zero
		}
		return rowAt(y)
	}
	for y := range size {
		fy := float32(y) * scale
		y0 := int(fy)
		y1 := min(y0+1, side-1)
		dy := fy - float32(y0)
		r0, r1 := row(y0-top), row(y1-top)
		out := dst.Data[y*size*C : (y+1)*size*C]
		for x := range size {
			a0, a1, dx := x0s[x], x1s[x], fxs[x]
			o := out[x*C : (x+1)*C]
			if a0 >= 0 && a1 >= 0 && C == 3 {
				// The common case, inside the image: three channels without per-sample checks.
				p00, p01 := r0[a0*3:a0*3+3:a0*3+3], r0[a1*3:a1*3+3:a1*3+3]
				p10, p11 := r1[a0*3:a0*3+3:a0*3+3], r1[a1*3:a1*3+3:a1*3+3]
				o := o[:3:3]
				for c := range 3 {
					top := p00[c] + (p01[c]-p00[c])*dx
					bot := p10[c] + (p11[c]-p10[c])*dx
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
				tl, tr := sample(r0, a0, C, c), sample(r0, a1, C, c)
				bl, br := sample(r1, a0, C, c), sample(r1, a1, C, c)
				top := tl + (tr-tl)*dx
				bot := bl + (br-bl)*dx
				o[c] = normalize(top+(bot-top)*dy, c)
			}
		}
	}
}

// inputScratch holds squareInput's per-column tables and zero row between calls.
type inputScratch struct {
	x0s, x1s  []int
	fxs, zero []float32
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

func sample(row []float32, x, channels, c int) float32 {
	if x < 0 {
		return 0
	}
	return row[x*channels+c]
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
