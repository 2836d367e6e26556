package nets

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/facecluster/facecluster/face/internal/weights"
	"github.com/facecluster/facecluster/internal/nn"
	"github.com/facecluster/facecluster/internal/testutil"
)

// referenceFile is the part of reference*.json (made by the reference runner on face-api.js) that
// the detector tests read.
type referenceFile struct {
	Generator string                    `json:"generator"`
	Images    map[string]referenceImage `json:"images"`
}

type referenceImage struct {
	Width   int             `json:"width"`
	Height  int             `json:"height"`
	SSD     []referenceFace `json:"ssd_mobilenetv1_min0_5"`
	Tiny320 []referenceFace `json:"tiny_face_detector_320_min0_5"`
	Tiny416 []referenceFace `json:"tiny_face_detector_416_min0_5"`
	Tiny608 []referenceFace `json:"tiny_face_detector_608_min0_5"`
}

func (r referenceImage) tiny(size int) []referenceFace {
	switch size {
	case 320:
		return r.Tiny320
	case 416:
		return r.Tiny416
	case 608:
		return r.Tiny608
	}
	panic(fmt.Sprintf("no tiny reference at %d", size))
}

type referenceFace struct {
	Score float64    `json:"score"`
	Box   [4]float64 `json:"box"` // x, y, w, h in image pixels
}

// fixtureSet is one reference JSON and the directory holding its images.
type fixtureSet struct {
	name string
	dir  string
	ref  referenceFile
}

func loadReference(t testing.TB, path string) referenceFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read reference: %v", err)
	}
	var ref referenceFile
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(ref.Images) == 0 {
		t.Fatalf("%s lists no images", path)
	}
	return ref
}

// npmSamples is the always-present fixture set: the demo photos that install with the models and
// the reference outputs for them committed in face/testdata.
func npmSamples(t testing.TB) fixtureSet {
	return fixtureSet{
		name: "npm-demo",
		dir:  testutil.DemoDir(t),
		ref:  loadReference(t, filepath.Join(testutil.RepoRoot(t), "face", "testdata", "reference-npm-samples.json")),
	}
}

// sharedFixtures is ../shared/faceapi-testdata (the test is skipped when it is absent).
func sharedFixtures(t testing.TB) fixtureSet {
	dir := testutil.SharedTestdata(t)
	return fixtureSet{name: "shared", dir: dir, ref: loadReference(t, filepath.Join(dir, "reference.json"))}
}

func (f fixtureSet) sortedNames() []string {
	names := make([]string, 0, len(f.ref.Images))
	for n := range f.ref.Images {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var imageCache sync.Map // path → *nn.Tensor: the parity tests share decoded photos

// loadRGB decodes an image file the way the reference runner does (jpeg-js / pngjs: raw pixel
// order, no EXIF orientation; RGB of RGBA with alpha ignored) into a 0..255 H×W×3 tensor.
func loadRGB(t testing.TB, path string) *nn.Tensor {
	t.Helper()
	if v, ok := imageCache.Load(path); ok {
		return v.(*nn.Tensor)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	b := img.Bounds()
	out := nn.NewTensor(b.Dy(), b.Dx(), 3)
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var r, g, bl uint8
			switch im := img.(type) {
			case *image.YCbCr:
				yi, ci := im.YOffset(x, y), im.COffset(x, y)
				r, g, bl = jpegjsRGB(im.Y[yi], im.Cb[ci], im.Cr[ci])
			default:
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				r, g, bl = c.R, c.G, c.B
			}
			out.Data[i], out.Data[i+1], out.Data[i+2] = float32(r), float32(g), float32(bl)
			i += 3
		}
	}
	imageCache.Store(path, out)
	return out
}

var (
	ssdOnce, tinyOnce sync.Once
	ssdNet            *SSD
	tinyNet           *Tiny
	ssdErr, tinyErr   error
)

func loadSet(t testing.TB, model string) *weights.Set {
	t.Helper()
	set, err := weights.LoadFile(filepath.Join(testutil.ModelsDir(t), model+"-weights_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func testSSD(t testing.TB) *SSD {
	t.Helper()
	ssdOnce.Do(func() { ssdNet, ssdErr = NewSSD(loadSet(t, "ssd_mobilenetv1_model")) })
	if ssdErr != nil {
		t.Fatal(ssdErr)
	}
	return ssdNet
}

func testTiny(t testing.TB) *Tiny {
	t.Helper()
	tinyOnce.Do(func() { tinyNet, tinyErr = NewTiny(loadSet(t, "tiny_face_detector_model")) })
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyNet
}

// Tolerances of issue 2's parity check.
const (
	boxTolerancePx = 2.0
	scoreTolerance = 0.02
)

// compareDetections checks got against the reference faces: the same number, and each reference
// face matched by its own detection (the nearest box) within the tolerances. Matching by position
// rather than by rank keeps two faces of nearly equal score from failing on their order.
func compareDetections(t *testing.T, got []Detection, want []referenceFace) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("found %d faces, the reference %d:\n got  %s\n want %s", len(got), len(want), fmtDets(got), fmtRefs(want))
		return
	}
	used := make([]bool, len(got))
	var worstBox, worstScore float64
	defer func() {
		if len(want) > 0 {
			t.Logf("%d faces; worst box difference %.3f px, worst score difference %.4f", len(want), worstBox, worstScore)
		}
	}()
	for _, w := range want {
		best, bestDiff := -1, math.Inf(1)
		for i, g := range got {
			if used[i] {
				continue
			}
			if d := boxDiff(g, w.Box); d < bestDiff {
				best, bestDiff = i, d
			}
		}
		used[best] = true
		g := got[best]
		worstBox, worstScore = max(worstBox, bestDiff), max(worstScore, math.Abs(g.Score-w.Score))
		if bestDiff > boxTolerancePx || math.Abs(g.Score-w.Score) > scoreTolerance {
			t.Errorf("face at %v score %.4f: got box [%.2f %.2f %.2f %.2f] score %.4f (box off by %.2f px)",
				w.Box, w.Score, g.X, g.Y, g.W, g.H, g.Score, bestDiff)
		}
	}
}

// boxDiff is the largest difference of the box's x, y, width and height in pixels.
func boxDiff(d Detection, box [4]float64) float64 {
	return max(math.Abs(d.X-box[0]), math.Abs(d.Y-box[1]), math.Abs(d.W-box[2]), math.Abs(d.H-box[3]))
}

func fmtDets(ds []Detection) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("[%.1f %.1f %.1f %.1f]@%.3f", d.X, d.Y, d.W, d.H, d.Score))
	}
	return strings.Join(s, " ")
}

func fmtRefs(rs []referenceFace) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("[%.1f %.1f %.1f %.1f]@%.3f", r.Box[0], r.Box[1], r.Box[2], r.Box[3], r.Score))
	}
	return strings.Join(s, " ")
}

// jpegjsRGB converts like jpeg-js, the reference runner's decoder: floating-point JFIF
// coefficients, clamped, then truncated by its Uint8Array (image/jpeg's own conversion rounds,
// which shifts every channel by half a level on average).
func jpegjsRGB(y, cb, cr uint8) (r, g, b uint8) {
	fy, fcb, fcr := float64(y), float64(cb)-128, float64(cr)-128
	clamp := func(v float64) uint8 { return uint8(min(max(v, 0), 255)) }
	return clamp(fy + 1.402*fcr), clamp(fy - 0.3441363*fcb - 0.71413636*fcr), clamp(fy + 1.772*fcb)
}
