package face

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/engine/face/internal/reftest"
)

// TestProductDecodingAgrees runs the product's path — face/imageio (image/jpeg, EXIF applied;
// the demo photos have orientation 1) — and checks what a user relies on: the same faces, boxes
// within 2 px, and each descriptor far closer to the reference's descriptor of the same face
// (decoders differ by ±1 level, which moves floored crops by a pixel: up to 0.13 measured) than
// the 0.6 that separates people.
func TestProductDecodingAgrees(t *testing.T) {
	e := testEngine(t)
	set := reftest.NPMSamples(t)
	for _, name := range []string{"sample2.jpg", "sample5.jpg"} {
		img, info, err := imageio.DecodeFile(filepath.Join(set.ImageDir, name), imageio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Orientation != 1 {
			t.Fatalf("%s: EXIF orientation %d: the reference did not rotate", name, info.Orientation)
		}
		// The reference's pass and crop: other alignments give other descriptors (another version).
		faces, err := e.Analyze(context.Background(), img, Options{Detector: DetectorSSDRaw, Alignment: AlignFaceAPI})
		if err != nil {
			t.Fatal(err)
		}
		want := set.Images[name].SSD
		if len(faces) != len(want) {
			t.Fatalf("%s: %d faces, reference %d", name, len(faces), len(want))
		}
		for i, f := range faces {
			if d := boxDiff(f.Box, boxOf(want[i].Box)); d > 2 {
				t.Errorf("%s face %d: box %.2f px from the reference's", name, i, d)
			}
			if d := math.Abs(f.Score - want[i].Score); d > 0.02 {
				t.Errorf("%s face %d: score %.4f, reference %.4f", name, i, f.Score, want[i].Score)
			}
			if d := reftest.L2(f.Descriptor[:], want[i].Descriptor); d > 0.2 {
				t.Errorf("%s face %d: descriptor %.3f from the reference's (limit 0.2)", name, i, d)
			}
		}
	}
}
