package face

import (
	"context"
	"errors"
	"image"
	"image/color"
	"testing"
)

// TestOddImagesDoNotPanic: tiny, thin and flat images go through every detector and the whole
// image mode without panicking; flat images have no faces.
func TestOddImagesDoNotPanic(t *testing.T) {
	e := testEngine(t)
	ctx := context.Background()
	for _, size := range []image.Point{{1, 1}, {2, 3}, {1, 700}, {700, 1}, {31, 33}, {640, 480}} {
		img := image.NewGray(image.Rect(0, 0, size.X, size.Y))
		for i := range img.Pix {
			img.Pix[i] = 200
		}
		for _, opts := range []Options{{}, {Detector: DetectorTiny, InputSize: 128}, {Detector: DetectorTiny, InputSize: 608}} {
			faces, err := e.Analyze(ctx, img, opts)
			if err != nil || len(faces) != 0 {
				t.Errorf("%v %v: %d faces, %v", size, opts.Detector, len(faces), err)
			}
		}
		faces, err := e.Analyze(ctx, img, Options{WholeImage: true, TinyLandmarks: true})
		if err != nil || len(faces) != 1 {
			t.Errorf("%v whole image: %d faces, %v", size, len(faces), err)
		}
	}
	// A box partly outside the image is clipped; one wholly outside is an error.
	img := image.NewRGBA(image.Rect(0, 0, 50, 40))
	img.Set(10, 10, color.White)
	if _, err := e.Landmarks(ctx, img, Box{-20, -20, 40, 40}); err != nil {
		t.Errorf("box partly outside: %v", err)
	}
	if _, err := e.Landmarks(ctx, img, Box{60, 0, 10, 10}); err == nil {
		t.Error("box outside the image: no error")
	}
}

func TestDegenerateLandmarksStillDescribe(t *testing.T) {
	e := testEngine(t)
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for _, a := range []Alignment{AlignFaceAPI, AlignDlib, AlignDlibSteady} {
		f := Face{Box: Box{0, 0, 64, 64}, Alignment: a}
		for i := range f.Landmarks {
			f.Landmarks[i] = Point{30 + float64(i%5), 30 + float64(i%7)} // eyes and mouth ~1 px apart
		}
		if _, err := e.Describe(context.Background(), img, f); err != nil {
			t.Fatalf("%s: degenerate landmarks: %v", a, err)
		}
		if a == AlignDlibSteady {
			continue // it finds landmarks of its own in boxes around f.Box, inside the image
		}
		for i := range f.Landmarks {
			f.Landmarks[i] = Point{500, 500}
		}
		if _, err := e.Describe(context.Background(), img, f); !errors.Is(err, errEmptyCrop) {
			t.Fatalf("%s: landmarks outside the image: %v", a, err)
		}
	}
}
