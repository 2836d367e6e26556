package face

import (
	"context"
	"errors"
	"image"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/facecluster/facecluster/engine/face/internal/reftest"
	"github.com/facecluster/facecluster/engine/face/models"
	"github.com/facecluster/facecluster/internal/testutil"
)

func TestOptionsRejectBadValues(t *testing.T) {
	e := testEngine(t)
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Detector: Detector(7)}, "unknown detector"},
		{Options{MinConfidence: 1.5}, "minimum confidence"},
		{Options{MinConfidence: -0.1}, "minimum confidence"},
		{Options{Detector: DetectorTiny, InputSize: 100}, "input size 100"},
		{Options{MaxResults: -1}, "maximum number"},
		{Options{MinFaceSize: -3}, "minimum face size"},
		{Options{TileSize: 64}, "tile size 64"},
		{Options{Detector: DetectorTiny, TileSize: 512}, "tiling needs an SSD detector"},
		{Options{Workers: -1}, "number of workers"},
		{Options{Alignment: Alignment(9)}, "unknown alignment"},
	} {
		if _, err := e.Analyze(context.Background(), img, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.want)
		}
	}
	if _, err := e.Detect(context.Background(), image.NewGray(image.Rect(0, 0, 0, 5)), Options{}); err == nil {
		t.Error("an empty image gives no error")
	}
	if _, err := ParseDetector("yolo"); err == nil {
		t.Error(`ParseDetector("yolo") gives no error`)
	}
	if d, err := ParseDetector("Tiny"); err != nil || d != DetectorTiny || d.String() != "tiny" {
		t.Errorf("ParseDetector(Tiny) = %v, %v", d, err)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(LoadOptions{ModelsDir: t.TempDir()})
	if !errors.Is(err, models.ErrNotInstalled) || !strings.Contains(err.Error(), "make models") {
		t.Fatalf("Load from an empty directory: %v", err)
	}
	e, err := Load(LoadOptions{ModelsDir: testutil.ModelsDir(t), Nets: NetTiny})
	if err != nil {
		t.Fatal(err)
	}
	img := reftest.NPMSamples(t).Decode(t, "sample2.jpg")
	if _, err := e.Analyze(context.Background(), img, Options{}); !errors.Is(err, ErrNotLoaded) || !strings.Contains(err.Error(), "SSD") {
		t.Errorf("SSD without loading it: %v", err)
	}
	if _, err := e.Analyze(context.Background(), img, Options{Detector: DetectorTiny}); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("landmarks without loading them: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	e := testEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img := reftest.NPMSamples(t).Decode(t, "sample2.jpg")
	if _, err := e.Analyze(ctx, img, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestOptionsShapeResults checks the tiny detector, MaxResults, MinFaceSize and WholeImage
// through Analyze on a demo photo.
func TestOptionsShapeResults(t *testing.T) {
	e := testEngine(t)
	set := reftest.NPMSamples(t)
	img := set.Decode(t, "sample4.jpg")
	want := set.Images["sample4.jpg"]
	ctx := context.Background()

	tiny, err := e.Analyze(ctx, img, Options{Detector: DetectorTiny, InputSize: 416, TinyLandmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(tiny) != len(want.Tiny416) {
		t.Errorf("tiny 416: %d faces, reference %d", len(tiny), len(want.Tiny416))
	}
	for _, f := range tiny {
		if f.Descriptor == (Descriptor{}) || f.Landmarks[30] == (Point{}) {
			t.Errorf("tiny face %+v lacks a descriptor or landmarks", f.Box)
		}
	}

	one, err := e.Analyze(ctx, img, Options{Detector: DetectorSSDRaw, MaxResults: 1})
	if err != nil || len(one) != 1 || math.Abs(one[0].Score-want.SSD[0].Score) > 0.02 {
		t.Errorf("MaxResults 1: %d faces, err %v (want the best face, score %.2f)", len(one), err, want.SSD[0].Score)
	}

	all, err := e.Detect(ctx, img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	minSize := 0 // the largest face's smaller side: keeps that face, drops smaller ones
	for _, d := range all {
		minSize = max(minSize, int(min(d.Box.W, d.Box.H)))
	}
	big, err := e.Detect(ctx, img, Options{MinFaceSize: minSize})
	if err != nil {
		t.Fatal(err)
	}
	var wantBig int
	for _, d := range all {
		if d.Box.W >= float64(minSize) && d.Box.H >= float64(minSize) {
			wantBig++
		}
	}
	if len(big) != wantBig || wantBig == 0 || wantBig == len(all) {
		t.Errorf("MinFaceSize %d kept %d of %d faces, want %d (some, not all)", minSize, len(big), len(all), wantBig)
	}

	whole, err := e.Analyze(ctx, img, Options{WholeImage: true})
	if err != nil {
		t.Fatal(err)
	}
	d, lm, err := e.DescribeWhole(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 1 || !whole[0].Whole || whole[0].Descriptor != d || whole[0].Landmarks != lm ||
		whole[0].Box != (Box{0, 0, float64(want.Width), float64(want.Height)}) {
		t.Errorf("WholeImage face %+v differs from DescribeWhole", whole[0].Box)
	}
}

// TestStepsMatchAnalyze: Detect + Landmarks + Describe, and Analyze with 2 workers, give what
// Analyze gives.
func TestStepsMatchAnalyze(t *testing.T) {
	e := testEngine(t)
	ctx := context.Background()
	img := reftest.NPMSamples(t).Decode(t, "sample1.jpg")
	faces, err := e.Analyze(ctx, img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dets, err := e.Detect(ctx, img, Options{})
	if err != nil || len(dets) != len(faces) {
		t.Fatalf("Detect: %d faces (Analyze %d), %v", len(dets), len(faces), err)
	}
	parallel, err := e.Analyze(ctx, img, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(parallel) != len(faces) {
		t.Fatalf("Workers 2: %d faces, 1 worker %d", len(parallel), len(faces))
	}
	for i := range faces {
		if parallel[i] != faces[i] {
			t.Errorf("face %d differs with 2 workers", i)
		}
	}
	for i, d := range dets {
		lm, err := e.Landmarks(ctx, img, d.Box)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := e.Describe(ctx, img, Face{Box: d.Box, Landmarks: lm})
		if err != nil {
			t.Fatal(err)
		}
		if d.Box != faces[i].Box || lm != faces[i].Landmarks || desc != faces[i].Descriptor {
			t.Errorf("face %d: steps differ from Analyze", i)
		}
	}
	// Every alignment: Describe of an analysed face gives the descriptor Analyze gave.
	for _, a := range []Alignment{AlignFaceAPI, AlignDlib, AlignDlibSteady} {
		fs, err := e.Analyze(ctx, img, Options{Alignment: a})
		if err != nil || len(fs) != len(faces) {
			t.Fatalf("%s: %d faces (default %d), %v", a, len(fs), len(faces), err)
		}
		for i, f := range fs {
			desc, err := e.Describe(ctx, img, Face{Box: f.Box, Landmarks: f.Landmarks, Alignment: a})
			if err != nil {
				t.Fatal(err)
			}
			if f.Alignment != a || desc != f.Descriptor {
				t.Errorf("%s face %d: Describe differs from Analyze (alignment %s)", a, i, f.Alignment)
			}
		}
	}
	if Distance(faces[0].Descriptor, faces[0].Descriptor) != 0 || Distance(faces[0].Descriptor, faces[1].Descriptor) < 0.6 {
		t.Errorf("distances: self %v, two people %v", Distance(faces[0].Descriptor, faces[0].Descriptor), Distance(faces[0].Descriptor, faces[1].Descriptor))
	}
}

// TestConcurrentUse runs Analyze on several photos at once and expects the sequential results.
func TestConcurrentUse(t *testing.T) {
	e := testEngine(t)
	set := reftest.NPMSamples(t)
	names := []string{"sample2.jpg", "sample3.jpg", "sample2.jpg", "sample3.jpg"}
	want := map[string][]Face{}
	imgs := map[string]image.Image{}
	for _, n := range names[:2] {
		imgs[n] = set.Decode(t, n)
		f, err := e.Analyze(context.Background(), imgs[n], Options{})
		if err != nil {
			t.Fatal(err)
		}
		want[n] = f
	}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			got, err := e.Analyze(context.Background(), imgs[n], Options{})
			if err != nil {
				t.Error(err)
				return
			}
			if len(got) != len(want[n]) {
				t.Errorf("%s: %d faces concurrently, %d alone", n, len(got), len(want[n]))
				return
			}
			for i := range got {
				if got[i] != want[n][i] {
					t.Errorf("%s face %d differs when run concurrently", n, i)
				}
			}
		})
	}
	wg.Wait()
}
