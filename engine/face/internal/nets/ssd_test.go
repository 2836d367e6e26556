package nets

import (
	"math"
	"sync"
	"testing"

	"github.com/facecluster/facecluster/engine/face/internal/reftest"
	"github.com/facecluster/facecluster/engine/internal/nn"
)

// runSSDParity checks SSD MobileNetV1 (minConfidence 0.5, maxResults 100, the reference's
// defaults) on every image of a fixture set against the reference's faces.
func runSSDParity(t *testing.T, set *reftest.Set) {
	ssd := testSSD(t)
	for _, name := range set.Names() {
		want := set.Images[name]
		t.Run(name, func(t *testing.T) {
			img := loadRGB(t, set, name)
			if img.W != want.Width || img.H != want.Height {
				t.Fatalf("decoded %dx%d, the reference %dx%d", img.W, img.H, want.Width, want.Height)
			}
			compareDetections(t, ssd.Detect(img, 0.5, 100), ssdReference(want), set.Exact(t, name))
		})
	}
}

func TestSSDMatchesReferenceOnNpmDemoPhotos(t *testing.T) { runSSDParity(t, reftest.NPMSamples(t)) }

func TestSSDMatchesReferenceOnSharedFixtures(t *testing.T) { runSSDParity(t, reftest.Shared(t)) }

func TestSSDMaxResultsAndConfidence(t *testing.T) {
	img := loadRGB(t, reftest.Shared(t), "faces.jpg")
	ssd := testSSD(t)

	all := ssd.Detect(img, 0.5, 100)
	if len(all) != 6 {
		t.Fatalf("faces.jpg: %d faces, want 6", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Score > all[i-1].Score {
			t.Errorf("detections not best first: %v", fmtDets(all))
		}
	}
	top2 := ssd.Detect(img, 0.5, 2)
	if len(top2) != 2 || top2[0] != all[0] || top2[1] != all[1] {
		t.Errorf("maxResults 2: got %s, want the two best of %s", fmtDets(top2), fmtDets(all))
	}
	strict := ssd.Detect(img, 0.9, 100)
	for _, d := range strict {
		if d.Score <= 0.9 {
			t.Errorf("minConfidence 0.9 kept a face scoring %.3f", d.Score)
		}
	}
	if len(strict) == 0 || len(strict) >= len(all) {
		t.Errorf("minConfidence 0.9 kept %d of %d faces", len(strict), len(all))
	}
}

func TestDetectorsOnEmptyBlackAndSliverImages(t *testing.T) {
	ssd := testSSD(t)
	if got := ssd.Detect(&nn.Tensor{C: 3}, 0.5, 100); len(got) != 0 {
		t.Errorf("empty image: %d detections", len(got))
	}
	blank := nn.NewTensor(300, 200, 3)
	if got := ssd.Detect(blank, 0.5, 100); len(got) != 0 {
		t.Errorf("black image: %s", fmtDets(got))
	}
	tiny := testTiny(t)
	for _, sliver := range []*nn.Tensor{nn.NewTensor(1, 700, 3), nn.NewTensor(700, 1, 3), nn.NewTensor(1, 1, 3)} {
		if got := ssd.Detect(sliver, 0.5, 100); len(got) != 0 {
			t.Errorf("SSD on a black %s image: %s", sliver.Shape(), fmtDets(got))
		}
		if got := tiny.Detect(sliver, 416, 0.5); len(got) != 0 {
			t.Errorf("tiny on a black %s image: %s", sliver.Shape(), fmtDets(got))
		}
	}
}

func TestDecodeSSDBox(t *testing.T) {
	anchor := [4]float32{0.2, 0.4, 0.6, 0.5} // ymin, xmin, ymax, xmax: height 0.4, width 0.1
	tests := []struct {
		name string
		t    [4]float32
		want [4]float64
	}{
		{"zero regression is the anchor", [4]float32{}, [4]float64{0.2, 0.4, 0.6, 0.5}},
		{"centre shift by t/10 of the size", [4]float32{10, -10, 0, 0}, [4]float64{0.6, 0.3, 1.0, 0.4}},
		{"size scaled by exp(t/5)", [4]float32{0, 0, 5 * float32(math.Ln2), 5 * float32(math.Ln2)}, [4]float64{0, 0.35, 0.8, 0.55}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ymin, xmin, ymax, xmax := decodeSSDBox(anchor, tc.t)
			got := [4]float32{ymin, xmin, ymax, xmax}
			for i := range got {
				if math.Abs(float64(got[i])-tc.want[i]) > 1e-6 {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSSDNonMaxSuppression(t *testing.T) {
	box := func(score, ymin, xmin, ymax, xmax float32) ssdCandidate {
		return ssdCandidate{score: score, ymin: ymin, xmin: xmin, ymax: ymax, xmax: xmax}
	}
	tests := []struct {
		name  string
		cands []ssdCandidate
		max   int
		want  []float32 // scores kept, in order
	}{
		{"overlap above 0.5 suppressed", []ssdCandidate{box(0.6, 0, 0, 1, 1), box(0.9, 0, 0, 1, 0.9)}, 100, []float32{0.9}},
		{"overlap of exactly 0.5 kept", []ssdCandidate{box(0.9, 0, 0, 1, 1), box(0.8, 0, 0, 1, 0.5)}, 100, []float32{0.9, 0.8}},
		{"disjoint kept best first", []ssdCandidate{box(0.7, 0, 0, 0.1, 0.1), box(0.8, 0.5, 0.5, 0.6, 0.6)}, 100, []float32{0.8, 0.7}},
		{"flipped corners are normalised", []ssdCandidate{box(0.9, 0, 0, 1, 1), box(0.8, 1, 1, 0, 0)}, 100, []float32{0.9}},
		{"degenerate box overlaps nothing", []ssdCandidate{box(0.9, 0, 0, 1, 1), box(0.8, 0.5, 0.5, 0.5, 0.9)}, 100, []float32{0.9, 0.8}},
		{"cap", []ssdCandidate{box(0.7, 0, 0, 0.1, 0.1), box(0.8, 0.5, 0.5, 0.6, 0.6), box(0.9, 0.8, 0.8, 0.9, 0.9)}, 2, []float32{0.9, 0.8}},
		{"suppressed box does not suppress others", []ssdCandidate{
			box(0.9, 0, 0, 1, 1), box(0.8, 0, 0.3, 1, 1.3), box(0.7, 0, 0.6, 1, 1.6),
		}, 100, []float32{0.9, 0.7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kept := ssdNonMaxSuppression(tc.cands, ssdIoUThreshold, tc.max)
			var got []float32
			for _, k := range kept {
				got = append(got, k.score)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("kept %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("kept %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSSDToImageOfASliverIsFinite(t *testing.T) {
	d := ssdToImage(ssdCandidate{score: 0.9, ymin: 0, xmin: 0.1, ymax: 0.001, xmax: 0.2}, 2000, 1, 512)
	for _, v := range []float64{d.X, d.Y, d.W, d.H} {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			t.Fatalf("2000×1 image: box %+v", d)
		}
	}
}

func TestSSDToImageUndoesPaddingAndClips(t *testing.T) {
	// A 200×100 image fills the top half of the 512 square: y is stretched back by 512/256.
	d := ssdToImage(ssdCandidate{score: 0.9, ymin: -0.1, xmin: 0.25, ymax: 0.25, xmax: 1.2}, 200, 100, 512)
	want := Detection{X: 50, Y: 0, W: 150, H: 50, Score: float64(float32(0.9))}
	if math.Abs(d.X-want.X) > 1e-4 || math.Abs(d.Y-want.Y) > 1e-4 || math.Abs(d.W-want.W) > 1e-4 || math.Abs(d.H-want.H) > 1e-4 || d.Score != want.Score {
		t.Errorf("got %+v, want %+v", d, want)
	}
}

func TestSSDParallelGivesTheSameFaces(t *testing.T) {
	img := loadRGB(t, reftest.NPMSamples(t), "sample5.jpg")
	ssd := testSSD(t)
	serial := ssd.Detect(img, 0.5, 100)
	if len(serial) == 0 {
		t.Fatal("no faces in sample5.jpg")
	}
	for _, workers := range []int{2, 3, 7} {
		got := ssd.DetectParallel(img, 0.5, 100, workers)
		if fmtDets(got) != fmtDets(serial) {
			t.Errorf("%d workers: %s\nserial: %s", workers, fmtDets(got), fmtDets(serial))
		}
		for i := range min(len(got), len(serial)) {
			if d := boxDiff(got[i], [4]float64{serial[i].X, serial[i].Y, serial[i].W, serial[i].H}); d > 1e-3 || math.Abs(got[i].Score-serial[i].Score) > 1e-5 {
				t.Errorf("%d workers: face %d differs by %.5f px, score %.6f vs %.6f", workers, i, d, got[i].Score, serial[i].Score)
			}
		}
	}
}

// TestDetectorsAreSafeForConcurrentUse runs both detectors from several goroutines at once (SSD
// also in its parallel mode) and expects each call to give the single-threaded result; run with
// -race to check the shared buffers.
func TestDetectorsAreSafeForConcurrentUse(t *testing.T) {
	set := reftest.NPMSamples(t)
	imgs := []*nn.Tensor{loadRGB(t, set, "sample2.jpg"), loadRGB(t, set, "sample4.jpg")}
	ssd, tiny := testSSD(t), testTiny(t)
	var wantSSD, wantTiny []string
	for _, img := range imgs {
		wantSSD = append(wantSSD, fmtDets(ssd.Detect(img, 0.5, 100)))
		wantTiny = append(wantTiny, fmtDets(tiny.Detect(img, 320, 0.5)))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			i := g % len(imgs)
			if got := fmtDets(ssd.DetectParallel(imgs[i], 0.5, 100, 1+g%2)); got != wantSSD[i] {
				t.Errorf("goroutine %d: SSD %s, alone %s", g, got, wantSSD[i])
			}
			if got := fmtDets(tiny.Detect(imgs[i], 320, 0.5)); got != wantTiny[i] {
				t.Errorf("goroutine %d: tiny %s, alone %s", g, got, wantTiny[i])
			}
		})
	}
	wg.Wait()
}
