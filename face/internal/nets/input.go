package nets

import (
	"fmt"

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
func squareInputTo(dst, img *nn.Tensor, centre bool) { squareInput(dst, img, centre, false) }

// ssdInputTo is squareInputTo (padding at the bottom/right) followed by SSD's normalisation
// x/127.5 − 1, in one pass over dst: the same float32 operations as the two done in turn.
func ssdInputTo(dst, img *nn.Tensor) { squareInput(dst, img, false, true) }

// squareInput is squareInputTo, then with ssdNorm x/127.5 − 1 on each value as it is written.
func squareInput(dst, img *nn.Tensor, centre, ssdNorm bool) {
	size := dst.H
	if img.H < 1 || img.W < 1 || size < 1 || dst.W != size || dst.C != img.C {
		panic(fmt.Sprintf("nets: SquareInput of %s to %s", img.Shape(), dst.Shape()))
	}
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
	if side == size && img.H == img.W {
		copy(dst.Data, img.Data)
		if ssdNorm {
			for i, v := range dst.Data {
				dst.Data[i] = v/127.5 - 1
			}
		}
		return
	}
	C := img.C
	scale := float32(side) / float32(size)
	// Per output column: the two source columns (-1 when in the padding) and the weight.
	x0s, x1s, fxs := make([]int, size), make([]int, size), make([]float32, size)
	for x := range size {
		fx := float32(x) * scale
		x0 := int(fx)
		x1 := min(x0+1, side-1)
		x0s[x], x1s[x], fxs[x] = srcIndex(x0-left, img.W), srcIndex(x1-left, img.W), fx-float32(x0)
	}
	zero := make([]float32, img.W*C)
	row := func(y int) []float32 {
		if y < 0 || y >= img.H {
			return zero
		}
		return img.Data[y*img.W*C : (y+1)*img.W*C]
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
				for c := range 3 {
					top := p00[c] + (p01[c]-p00[c])*dx
					bot := p10[c] + (p11[c]-p10[c])*dx
					v := top + (bot-top)*dy
					if ssdNorm {
						v = v/127.5 - 1
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
				v := top + (bot-top)*dy
				if ssdNorm {
					v = v/127.5 - 1
				}
				o[c] = v
			}
		}
	}
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
