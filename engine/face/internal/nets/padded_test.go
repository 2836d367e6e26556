package nets

import (
	"math"
	"testing"

	"github.com/facecluster/facecluster/engine/internal/nn"
)

// TestPaddedInput: DetectPadded's input is the crop centred on a square margin·(long side) wider
// each side, the rest mid-grey (0 after SSD's normalisation), and boxes map back to the crop.
func TestPaddedInput(t *testing.T) {
	const w, h, v = 200, 100, 200
	img := &RGB8{W: w, H: h, Pix: make([]uint8, w*h*3)}
	for i := range img.Pix {
		img.Pix[i] = v
	}
	cv := paddedCanvas(w, h, 0.5)
	if cv != (canvas{side: 400, top: 150, left: 100, fill: 127.5}) {
		t.Fatalf("canvas %+v, want side 400 (200 + 2·100), the crop at (100, 150)", cv)
	}
	dst := nn.NewTensor(64, 64, 3)
	squareInputOn(dst, Whole8(img), cv, normSSD)
	at := func(x, y int) float32 { return dst.Data[(y*64+x)*3] }
	photo := float32(v)/127.5 - 1
	for _, p := range []struct {
		x, y int
		want float32
	}{
		{0, 0, 0}, {63, 63, 0}, {32, 8, 0}, {8, 32, 0}, // grey margin
		{32, 32, photo}, {20, 30, photo}, {44, 34, photo}, // the photo: x 16..48, y 24..40
	} {
		if got := at(p.x, p.y); math.Abs(float64(got-p.want)) > 1e-6 {
			t.Errorf("input (%d, %d) = %v, want %v", p.x, p.y, got, p.want)
		}
	}
	// The photo's area on the canvas maps back to the whole crop; a box reaching into the
	// margin is clipped to the crop; one wholly in the margin is dropped.
	for _, tc := range []struct {
		c    ssdCandidate
		want Detection
		ok   bool
	}{
		{ssdCandidate{score: 0.9, ymin: 0.375, xmin: 0.25, ymax: 0.625, xmax: 0.75}, Detection{0, 0, 200, 100, 0.9}, true},
		{ssdCandidate{score: 0.8, ymin: 0.3, xmin: 0.5, ymax: 0.5, xmax: 0.9}, Detection{100, 0, 100, 50, 0.8}, true},
		{ssdCandidate{score: 0.7, ymin: 0, xmin: 0, ymax: 0.2, xmax: 0.2}, Detection{}, false},
	} {
		got, ok := canvasToCrop(tc.c, cv, w, h)
		if ok != tc.ok || math.Abs(got.X-tc.want.X) > 1e-3 || math.Abs(got.Y-tc.want.Y) > 1e-3 ||
			math.Abs(got.W-tc.want.W) > 1e-3 || math.Abs(got.H-tc.want.H) > 1e-3 || (ok && math.Abs(got.Score-tc.want.Score) > 1e-6) {
			t.Errorf("%+v → %+v %v, want %+v %v", tc.c, got, ok, tc.want, tc.ok)
		}
	}
}
