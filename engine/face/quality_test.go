package face

import (
	"context"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"

	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/testutil"
)

// Sharpness measures detail, not pixels or exposure: the same face twice as large, or with half
// the contrast, measures about the same; the face under a blur measures far less.
func TestSharpnessIgnoresSizeAndContrastButNotBlur(t *testing.T) {
	img, _, err := imageio.DecodeFile(filepath.Join(testutil.SharedTestdata(t), "angry.jpg"), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	eng := testEngine(t)
	b := img.Bounds()
	var original Face
	measure := func(img image.Image) Quality {
		t.Helper()
		faces, err := eng.Analyze(context.Background(), img, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(faces) == 0 && img.Bounds() == b { // too blurred to detect: the face is where it was
			faces = []Face{original}
		}
		if len(faces) != 1 {
			t.Fatalf("analyze: %d faces", len(faces))
		}
		if original.Box.W == 0 {
			original = faces[0]
		}
		return MeasureQuality(img, faces[0])
	}
	scaled := func(f float64) image.Image {
		out := image.NewRGBA(image.Rect(0, 0, int(float64(b.Dx())*f), int(float64(b.Dy())*f)))
		draw.CatmullRom.Scale(out, out.Bounds(), img, b, draw.Src, nil)
		return out
	}
	flat := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			flat.Set(x, y, color.RGBA{uint8(64 + r>>9), uint8(64 + g>>9), uint8(64 + bl>>9), 255})
		}
	}
	// A blur: down to a sixth and back up.
	small := image.NewRGBA(image.Rect(0, 0, b.Dx()/6, b.Dy()/6))
	draw.CatmullRom.Scale(small, small.Bounds(), img, b, draw.Src, nil)
	blurred := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.BiLinear.Scale(blurred, blurred.Bounds(), small, small.Bounds(), draw.Src, nil)

	base := measure(img)
	t.Logf("original: %+v", base)
	for _, tt := range []struct {
		name     string
		img      image.Image
		min, max float64 // the ratio of its sharpness to the original's
		size     float64 // the ratio of its size
	}{
		{"twice as large", scaled(2), 0.75, 1.25, 2},
		{"half the contrast", flat, 0.85, 1.15, 1},
		{"blurred", blurred, 0, 0.5, 1},
	} {
		q := measure(tt.img)
		r := q.Sharpness / base.Sharpness
		t.Logf("%s: %+v (sharpness ×%.2f)", tt.name, q, r)
		if r < tt.min || r > tt.max {
			t.Errorf("%s: sharpness %.3f, %.2f× the original's %.3f; want %.2f–%.2f×", tt.name, q.Sharpness, r, base.Sharpness, tt.min, tt.max)
		}
		if s := q.Size / base.Size; math.Abs(s-tt.size) > 0.1*tt.size {
			t.Errorf("%s: size %.0f, %.2f× the original's; want %.1f×", tt.name, q.Size, s, tt.size)
		}
		if math.Abs(q.Yaw-base.Yaw) > 5 {
			t.Errorf("%s: yaw %.1f°, the original's %.1f°: the face did not turn", tt.name, q.Yaw, base.Yaw)
		}
	}
}
