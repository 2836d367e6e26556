package face

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/facecluster/facecluster/engine/face/internal/reftest"
	"github.com/facecluster/facecluster/internal/testutil"
)

var (
	sharedEngine     *Engine
	sharedEngineErr  error
	sharedEngineOnce sync.Once
)

// testEngine loads one engine with every net for all tests of the package.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	dir := testutil.ModelsDir(t)
	sharedEngineOnce.Do(func() { sharedEngine, sharedEngineErr = Load(LoadOptions{ModelsDir: dir}) })
	if sharedEngineErr != nil {
		t.Fatal(sharedEngineErr)
	}
	return sharedEngine
}

func boxOf(b [4]float64) Box { return Box{b[0], b[1], b[2], b[3]} }

func boxDiff(a, b Box) float64 {
	return max(math.Abs(a.X-b.X), math.Abs(a.Y-b.Y), math.Abs(a.W-b.W), math.Abs(a.H-b.H))
}

func points(lm Landmarks) [][2]float64 {
	out := make([][2]float64, len(lm))
	for i, p := range lm {
		out[i] = [2]float64{p.X, p.Y}
	}
	return out
}

// TestParity runs the full pipeline (the reference's SSD pass, landmarks, face-api.js's crop,
// descriptor) and the whole-image mode on the npm demo photos (always) and the shared fixtures
// (when present) and compares every face with the reference implementation's output: boxes
// within 2 px, scores within 0.02, landmarks within 2 px, descriptors within 0.01 (L2).
func TestParity(t *testing.T) {
	e := testEngine(t)
	ctx := context.Background()
	for _, load := range []func(testing.TB) *reftest.Set{reftest.NPMSamples, reftest.Shared} {
		set := load(t)
		for _, name := range set.Names() {
			t.Run(set.Name+"/"+name, func(t *testing.T) {
				want := set.Images[name]
				img, exact := set.Decode(t, name), set.Exact(t, name)
				faces, err := e.Analyze(ctx, img, Options{Detector: DetectorSSDRaw, Alignment: AlignFaceAPI})
				if err != nil {
					t.Fatal(err)
				}
				if len(faces) != len(want.SSD) {
					t.Fatalf("%d faces, reference has %d", len(faces), len(want.SSD))
				}
				for i, f := range faces {
					w := want.SSD[i]
					label := fmt.Sprintf("face %d %s", i, reftest.BoxString(w.Box))
					if d := boxDiff(f.Box, boxOf(w.Box)); d > 2 {
						t.Errorf("%s: box %+v is %.2f px from the reference's", label, f.Box, d)
					}
					if d := math.Abs(f.Score - w.Score); d > 0.02 {
						t.Errorf("%s: score %.4f, reference %.4f", label, f.Score, w.Score)
					}
					if !exact {
						// Progressive JPEGs: image/jpeg's pixels differ from the reference
						// decoder's by ±1 level, the floored crops can move by a pixel and
						// landmarks/descriptors follow. Only detection is compared.
						continue
					}
					if d := reftest.MaxPointDist(points(f.Landmarks), w.Landmarks); d > 2 {
						t.Errorf("%s: landmarks up to %.2f px from the reference's", label, d)
					}
					if d := boxDiff(f.AlignedBox, boxOf(w.AlignedBox)); d > 2 {
						t.Errorf("%s: aligned box %+v is %.2f px from the reference's", label, f.AlignedBox, d)
					}
					if d := reftest.L2(f.Descriptor[:], w.Descriptor); d >= 0.01 {
						t.Errorf("%s: descriptor %.4f from the reference's (limit 0.01)", label, d)
					}
				}

				whole, err := e.Analyze(ctx, img, Options{WholeImage: true, Alignment: AlignFaceAPI})
				if err != nil {
					t.Fatal(err)
				}
				d, lm := whole[0].Descriptor, whole[0].Landmarks
				if !exact {
					return
				}
				if dist := reftest.L2(d[:], want.WholeDescriptor); dist >= 0.01 {
					t.Errorf("whole-image descriptor %.4f from the reference's (limit 0.01)", dist)
				}
				if m := reftest.MaxPointDist(points(lm), want.WholeLandmarks); m > 2 {
					t.Errorf("whole-image landmarks up to %.2f px from the reference's (limit 2)", m)
				}
			})
		}
	}
}
