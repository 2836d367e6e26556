package nets

import (
	"math"

	"github.com/facecluster/facecluster/internal/nn"
)

// squareInput is the detectors' input stage, as the reference's NetInput.toBatchTensor(size, false)
// runs it: the image is zero-padded at the bottom or right to a square of its longer side, resized
// bilinearly to size×size with tfjs semantics (src = dst·in/out, no corner alignment, no half-pixel
// centres) and normalised per channel as (x − sub[c])·mul.
//
// It is written out here rather than composed from nn.ResizeBilinear because the padded square of a
// 1920-pixel photo would be a 44 MB temporary per call; sampling the padding as zeros on the fly
// gives the same values without it.
func squareInput(img *nn.Tensor, size int, sub [3]float32, mul float32) *nn.Tensor {
	side := max(img.H, img.W)
	out := nn.NewTensor(size, size, 3)
	scale := float32(side) / float32(size)
	if side == size {
		scale = 1
	}
	// Column sample positions are the same for every row: compute them once.
	x0s := make([]int, size)
	x1s := make([]int, size)
	fxs := make([]float32, size)
	for x := range size {
		x0s[x], x1s[x], fxs[x] = samplePos(x, scale, side)
	}
	pixel := func(y, x int) (r, g, b float32) {
		if y >= img.H || x >= img.W {
			return 0, 0, 0 // the bottom/right padding
		}
		i := (y*img.W + x) * 3
		return img.Data[i], img.Data[i+1], img.Data[i+2]
	}
	for y := range size {
		y0, y1, fy := samplePos(y, scale, side)
		row := out.Data[y*size*3 : (y+1)*size*3]
		for x := range size {
			x0, x1, fx := x0s[x], x1s[x], fxs[x]
			tlR, tlG, tlB := pixel(y0, x0)
			trR, trG, trB := pixel(y0, x1)
			blR, blG, blB := pixel(y1, x0)
			brR, brG, brB := pixel(y1, x1)
			row[x*3] = (lerp2(tlR, trR, blR, brR, fx, fy) - sub[0]) * mul
			row[x*3+1] = (lerp2(tlG, trG, blG, brG, fx, fy) - sub[1]) * mul
			row[x*3+2] = (lerp2(tlB, trB, blB, brB, fx, fy) - sub[2]) * mul
		}
	}
	return out
}

// samplePos returns the two source indices and the fraction between them for output index i.
func samplePos(i int, scale float32, n int) (lo, hi int, frac float32) {
	src := float32(i) * scale
	lo = int(math.Floor(float64(src)))
	hi = min(int(math.Ceil(float64(src))), n-1)
	lo = min(lo, n-1)
	return lo, hi, src - float32(lo)
}

// lerp2 interpolates like tfjs's kernel: first along x on both rows, then along y.
func lerp2(tl, tr, bl, br, fx, fy float32) float32 {
	top := tl + (tr-tl)*fx
	bottom := bl + (br-bl)*fx
	return top + (bottom-top)*fy
}

// reshapedSide is the reference's computeReshapedDimensions for one side: the length that side
// has inside the size×size input after scaling the longer side to size (JS Math.round).
func reshapedSide(n, longer, size int) float64 {
	return math.Floor(float64(n)*(float64(size)/float64(longer)) + 0.5)
}
