package face

import (
	"context"
	"image"
	"math"
	"slices"
	"testing"

	"github.com/facecluster/facecluster/engine/face/internal/reftest"
)

// TestDlibChipPlacesTheMeanFace: landmarks that are dlib's padded mean face turned, scaled and
// moved give a chip that undoes exactly that: each landmark is seen at its mean-face position
// in the chip, whatever the rotation.
func TestDlibChipPlacesTheMeanFace(t *testing.T) {
	for _, tc := range []struct{ angle, scale, dx, dy float64 }{
		{0, 1, 0, 0}, {30, 2, 40, -7.5}, {-75, 0.4, 300, 200}, {180, 1.3, 0, 0},
	} {
		sin, cos := math.Sincos(tc.angle * math.Pi / 180)
		var lm Landmarks
		template := map[int][2]float64{}
		for i := range lm {
			m := meanFace[i]
			u := (ChipPadding + m[0]) / (2*ChipPadding + 1) * ChipSize
			v := (ChipPadding + m[1]) / (2*ChipPadding + 1) * ChipSize
			template[i] = [2]float64{u, v}
			lm[i] = Point{tc.dx + tc.scale*(cos*u-sin*v), tc.dy + tc.scale*(sin*u+cos*v)}
		}
		c, err := dlibChip(&lm)
		if err != nil {
			t.Fatal(err)
		}
		// Chip pixels span ChipSize/(ChipSize−1) template units (corner pixels on the corners).
		k := float64(ChipSize) / float64(ChipSize-1)
		if got := c.scale(); math.Abs(got-tc.scale*k) > 1e-9 {
			t.Errorf("%+v: scale %v, want %v", tc, got, tc.scale*k)
		}
		if got := math.Atan2(c.uy, c.ux) * 180 / math.Pi; math.Abs(math.Remainder(got-tc.angle, 360)) > 1e-6 {
			t.Errorf("%+v: angle %v°", tc, got)
		}
		for i, uv := range template {
			if !alignedPoint(i) {
				continue
			}
			// The template point (u, v) lies at chip pixel centre-relative (u−n/2)(n−1)/n + (n−1)/2.
			n := float64(ChipSize)
			x, y := c.at((uv[0]-n/2)/k+(n-1)/2, (uv[1]-n/2)/k+(n-1)/2)
			if d := math.Hypot(x-lm[i].X, y-lm[i].Y); d > 1e-6 {
				t.Errorf("%+v: landmark %d lands %.2g px away", tc, i, d)
			}
		}
	}
	var flat Landmarks
	for i := range flat {
		flat[i] = Point{10, 10}
	}
	if _, err := dlibChip(&flat); err == nil {
		t.Error("coincident landmarks: no error")
	}
}

// TestDlibChipSubPixel: the chip follows the landmarks by fractions of a pixel. Moving the
// photo by one pixel and the landmarks with it gives the same chip, bit for bit; moving the
// landmarks by half a pixel over a gradient changes the chip by half a level.
func TestDlibChipSubPixel(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 300, 300))
	for y := range 300 {
		for x := range 300 {
			img.Pix[img.PixOffset(x, y)] = uint8(x * 255 / 299)
			img.Pix[img.PixOffset(x, y)+1] = uint8((x*7 + y*13) % 256)
			img.Pix[img.PixOffset(x, y)+3] = 255
		}
	}
	var lm Landmarks
	for i := range lm {
		m := meanFace[i]
		lm[i] = Point{80 + 120*m[0], 70 + 120*m[1]}
	}
	chipOf := func(img image.Image, lm Landmarks) []float32 {
		in, err := toInput(img)
		if err != nil {
			t.Fatal(err)
		}
		defer in.release()
		c, _, err := dlibChipCrop(in, &lm)
		if err != nil {
			t.Fatal(err)
		}
		return c.Img.Data
	}
	base := chipOf(img, lm)
	moved := lm
	for i := range moved {
		moved[i].X--
		moved[i].Y--
	}
	if !slices.Equal(base, chipOf(img.SubImage(image.Rect(1, 1, 300, 300)), moved)) {
		t.Error("the chip of the photo moved by a pixel, landmarks with it, differs")
	}
	half := lm
	for i := range half {
		half[i].X += 0.5
	}
	shifted := chipOf(img, half)
	// Red is x·255/299: half a pixel to the right is ~0.43 levels more in the chip's interior.
	var sum float64
	var n int
	for v := 30; v < 120; v++ {
		for u := 30; u < 120; u++ {
			i := (v*ChipSize + u) * 3
			sum += float64(shifted[i] - base[i])
			n++
		}
	}
	if mean := sum / float64(n); math.Abs(mean-0.5*255/299) > 0.02 {
		t.Errorf("half a pixel to the right: red up by %.3f levels, want %.3f", mean, 0.5*255/299)
	}
}

// TestAlignmentSteadiness: on the demo photos moved by one and two pixels, dlib's chip moves
// descriptors less than face-api.js's floored crop, and the steady variant less still (the
// medians over all the faces; LFW's numbers are in docs/benchmarks.md).
func TestAlignmentSteadiness(t *testing.T) {
	if testing.Short() {
		t.Skip("analyses every demo photo 9 times")
	}
	e := testEngine(t)
	ctx := context.Background()
	set := reftest.NPMSamples(t)
	aligns := []Alignment{AlignFaceAPI, AlignDlib, AlignDlibSteady}
	moves := make([][]float64, len(aligns))
	for _, name := range set.Names() {
		img := set.Decode(t, name)
		sub, ok := img.(interface {
			SubImage(image.Rectangle) image.Image
		})
		if !ok {
			t.Fatalf("%s: %T has no SubImage", name, img)
		}
		b := img.Bounds()
		for k, a := range aligns {
			faces, err := e.Analyze(ctx, img, Options{Alignment: a})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []int{1, 2} {
				got, err := e.Analyze(ctx, sub.SubImage(image.Rect(s, s, b.Max.X, b.Max.Y)), Options{Alignment: a})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range faces {
					if g, ok := sameFace(f, got, float64(s)); ok {
						moves[k] = append(moves[k], float64(Distance(f.Descriptor, g.Descriptor)))
					}
				}
			}
		}
	}
	med := make([]float64, len(aligns))
	for k := range aligns {
		if len(moves[k]) < 10 {
			t.Fatalf("%s: only %d faces found again after the shift", aligns[k], len(moves[k]))
		}
		slices.Sort(moves[k])
		med[k] = moves[k][len(moves[k])/2]
		t.Logf("%s: median descriptor move %.4f over %d faces, max %.4f", aligns[k], med[k], len(moves[k]), moves[k][len(moves[k])-1])
	}
	if !(med[1] < med[0] && med[2] < med[1]) {
		t.Errorf("median moves faceapi %.4f, dlib %.4f, dlib-steady %.4f: want each alignment steadier than the one before", med[0], med[1], med[2])
	}
}

// sameFace finds the face of faces (in a photo moved by s pixels) at f's place.
func sameFace(f Face, faces []Face, s float64) (Face, bool) {
	for _, g := range faces {
		if math.Abs(g.Box.X+s-f.Box.X) < 0.2*f.Box.W && math.Abs(g.Box.Y+s-f.Box.Y) < 0.2*f.Box.H {
			return g, true
		}
	}
	return Face{}, false
}
