package nets

import (
	"fmt"
	"math"
	"testing"

	"github.com/facecluster/facecluster/engine/face/internal/reftest"
	"github.com/facecluster/facecluster/engine/internal/nn"
)

var tinySizes = []int{320, 416, 608}

// runTinyParity checks TinyFaceDetector (score threshold 0.5) at 320, 416 and 608 on every image
// of a fixture set against the reference's faces.
func runTinyParity(t *testing.T, set *reftest.Set) {
	tiny := testTiny(t)
	for _, name := range set.Names() {
		want := set.Images[name]
		for _, size := range tinySizes {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				img := loadRGB(t, set, name)
				compareDetections(t, tiny.Detect(img, size, 0.5), tinyReference(want, size), set.Exact(t, name))
			})
		}
	}
}

func TestTinyMatchesReferenceOnNpmDemoPhotos(t *testing.T) { runTinyParity(t, reftest.NPMSamples(t)) }

func TestTinyMatchesReferenceOnSharedFixtures(t *testing.T) { runTinyParity(t, reftest.Shared(t)) }

func TestCheckTinyInputSize(t *testing.T) {
	for _, size := range []int{128, 160, 320, 416, 512, 608} {
		if err := CheckTinyInputSize(size); err != nil {
			t.Errorf("%d: %v", size, err)
		}
	}
	for _, size := range []int{0, -32, 96, 100, 415, 640} {
		if err := CheckTinyInputSize(size); err == nil {
			t.Errorf("%d accepted", size)
		}
	}
}

func TestTinyRejectsBadInputSize(t *testing.T) {
	tiny := testTiny(t)
	defer func() {
		if recover() == nil {
			t.Error("input size 100 did not panic")
		}
	}()
	tiny.Detect(nn.NewTensor(64, 64, 3), 100, 0.5)
}

func TestDecodeTiny(t *testing.T) {
	// One 2×2 grid; only cell (row 1, col 0), anchor 2 scores above 0.5 (logit 2 → 0.881).
	const grid = 2
	out := make([]float32, grid*grid*len(tinyAnchors)*tinyBoxEncoding)
	for i := 4; i < len(out); i += tinyBoxEncoding {
		out[i] = -5
	}
	cell := ((1*grid+0)*len(tinyAnchors) + 2) * tinyBoxEncoding
	copy(out[cell:], []float32{0, 0, 0, float32(math.Log(0.5)), 2})

	boxes := decodeTiny(out, grid, 0.5, 1, 2)
	if len(boxes) != 1 {
		t.Fatalf("decoded %d boxes, want 1", len(boxes))
	}
	b := boxes[0]
	// centre ((0 + σ(0))/2, (1 + σ(0))/2·2) = (0.25, 1.5); size (anchor.x/2, 0.5·anchor.y/2·2).
	w, h := tinyAnchors[2][0]/2, tinyAnchors[2][1]/2
	want := tinyBox{score: float64(sigmoid(2)), left: 0.25 - w/2, top: 1.5 - h/2, right: 0.25 + w/2, bottom: 1.5 + h/2}
	for _, d := range [][2]float64{{b.score, want.score}, {b.left, want.left}, {b.top, want.top}, {b.right, want.right}, {b.bottom, want.bottom}} {
		if math.Abs(d[0]-d[1]) > 1e-6 {
			t.Fatalf("got %+v, want %+v", b, want)
		}
	}
}

func TestTinyNonMaxSuppression(t *testing.T) {
	b := func(score, l, top, r, bottom float64) tinyBox {
		return tinyBox{score: score, left: l, top: top, right: r, bottom: bottom}
	}
	tests := []struct {
		name  string
		boxes []tinyBox
		want  []float64
	}{
		{"overlap above 0.4 dropped", []tinyBox{b(0.6, 0, 0, 1, 1), b(0.9, 0.2, 0, 1.2, 1)}, []float64{0.9}},
		{"overlap below 0.4 kept", []tinyBox{b(0.6, 0, 0, 1, 1), b(0.9, 0.6, 0, 1.6, 1)}, []float64{0.9, 0.6}},
		{"best first, no cap", []tinyBox{b(0.6, 0, 0, 1, 1), b(0.7, 2, 2, 3, 3), b(0.8, 4, 4, 5, 5)}, []float64{0.8, 0.7, 0.6}},
		{"dropped box does not drop others", []tinyBox{b(0.9, 0, 0, 1, 1), b(0.8, 0.3, 0, 1.3, 1), b(0.7, 0.6, 0, 1.6, 1)}, []float64{0.9, 0.7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kept := tinyNonMaxSuppression(tc.boxes, tinyIoUThreshold)
			var got []float64
			for _, k := range kept {
				got = append(got, k.score)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("kept %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTinyEveryInputSize runs every allowed input size: the grid must come out as size/32 (a
// mismatch panics in decoding) and sizes from 320 up must still find the faces of a group photo.
func TestTinyEveryInputSize(t *testing.T) {
	tiny := testTiny(t)
	img := loadRGB(t, reftest.NPMSamples(t), "sample3.jpg")
	for size := TinyMinInputSize; size <= TinyMaxInputSize; size += 32 {
		dets := tiny.Detect(img, size, 0.5)
		for _, d := range dets {
			if d.Score <= 0.5 || d.W <= 0 || d.H <= 0 || d.X+d.W < 0 || d.Y+d.H < 0 || d.X > float64(img.W) || d.Y > float64(img.H) {
				t.Errorf("size %d: implausible detection %s", size, fmtDets([]Detection{d}))
			}
		}
		if size >= 320 && len(dets) == 0 {
			t.Errorf("size %d: no faces in sample3.jpg", size)
		}
	}
}
