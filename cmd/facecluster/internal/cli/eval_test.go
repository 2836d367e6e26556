package cli

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/testutil"
)

// cropAround saves the largest square of a demo photo centred on its i-th face (the
// reference's box), up to four face sizes wide: the face at the centre, as in LFW's photos.
func cropAround(t *testing.T, photo string, i int, path string) {
	t.Helper()
	img, _, err := imageio.DecodeFile(filepath.Join(testutil.DemoDir(t), photo), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := referenceFaces(t, photo)[i]
	cx, cy := int(b[0]+b[2]/2), int(b[1]+b[3]/2)
	ib := img.Bounds()
	half := min(int(2*max(b[2], b[3])), cx-ib.Min.X, ib.Max.X-cx, cy-ib.Min.Y, ib.Max.Y-cy)
	r := image.Rect(cx-half, cy-half, cx+half, cy+half)
	writeImage(t, path, imageio.ToRGBA(img).SubImage(r))
}

// mirror saves src flipped left to right as dst: the same person in another photo.
func mirror(t *testing.T, src, dst string) {
	t.Helper()
	img, _, err := imageio.DecodeFile(src, imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rgba := imageio.ToRGBA(img)
	b := rgba.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(b.Max.X-1-(x-b.Min.X), y, rgba.At(x, y))
		}
	}
	writeImage(t, dst, out)
}

// evalSet lays out demo-photo faces as a small LFW: Name/Name_0001.jpg a face cropped around
// its centre, Name_0002.jpg its mirror image; "Nobody" has two blank photos (faces missed).
// Two folds of three same-person and three different-person pairs; the different pairs are
// faces of one photo (different people).
func evalSet(t *testing.T) (images, pairs string) {
	t.Helper()
	dir := t.TempDir()
	images = filepath.Join(dir, "images")
	people := map[string][2]any{
		"A0": {"sample1.jpg", 0}, "A1": {"sample1.jpg", 1}, "A2": {"sample1.jpg", 2},
		"B0": {"sample6.jpg", 0}, "B1": {"sample6.jpg", 1}, "C0": {"sample3.jpg", 0}, "C2": {"sample3.jpg", 2},
	}
	for name, src := range people {
		d := filepath.Join(images, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		first := filepath.Join(d, name+"_0001.jpg")
		cropAround(t, src[0].(string), src[1].(int), first)
		mirror(t, first, filepath.Join(d, name+"_0002.jpg"))
	}
	if err := os.MkdirAll(filepath.Join(images, "Nobody"), 0o755); err != nil {
		t.Fatal(err)
	}
	blank(t, filepath.Join(images, "Nobody", "Nobody_0001.jpg"))
	blank(t, filepath.Join(images, "Nobody", "Nobody_0002.jpg"))
	pairs = filepath.Join(dir, "pairs.txt")
	text := "2\t3\n" +
		"A0\t1\t2\nA1\t1\t2\nA2\t1\t2\nA0\t1\tA1\t2\nA1\t1\tA2\t2\nA2\t1\tA0\t2\n" +
		"B0\t1\t2\nB1\t1\t2\nNobody\t1\t2\nB0\t1\tB1\t2\nC0\t1\tC2\t2\nB1\t1\tB0\t2\n"
	if err := os.WriteFile(pairs, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return images, pairs
}

// TestEvalLFW runs `eval lfw` on the small set: the two blank photos are missed, their pair is
// wrong, the other eleven right; with two alignments, two reports from one pass.
func TestEvalLFW(t *testing.T) {
	images, pairs := evalSet(t)
	r := run(t, "eval", "lfw", "--images", images, "--pairs", pairs, "--alignment", "dlib,faceapi", "--stability", "4", "--list-missed")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	out := r.stdout
	for _, want := range []string{
		"LFW verification: 12 pairs, 14 images (detector ssd, alignment dlib, descriptors face-api-1.7.15/recognition+dlib-chip-150-0.25)",
		"LFW verification: 12 pairs, 14 images (detector ssd, alignment faceapi, descriptors face-api-1.7.15/recognition)",
		"faces missed:        2 images (14.29 %) without a face at the centre, 2 of them without any face; 1 pairs affected",
		"missed: Nobody_0001\nmissed: Nobody_0002\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "at threshold 0.600:   accuracy 91.67 %, FAR 0.00 %, FRR 16.67 %"); n != 2 {
		t.Errorf("want both alignments 11 of 12 right at 0.6 (the missed same pair rejected):\n%s", out)
	}
	// Four images measured under three changes: every move small (same face, same photo).
	stab := regexp.MustCompile(`stability \(4 images\): descriptor L2 change median ([0-9.]+), p99 ([0-9.]+)`).FindAllStringSubmatch(out, -1)
	if len(stab) != 2 {
		t.Fatalf("want a stability line per alignment:\n%s", out)
	}
	for _, m := range stab {
		var p99 float64
		fmt.Sscan(m[2], &p99)
		if p99 > 0.3 {
			t.Errorf("descriptors moved by up to %v under re-encoding and shifts: not the same face any more?", p99)
		}
	}

	for _, bad := range [][]string{
		{"eval", "lfw", "--pairs", pairs},
		{"eval", "lfw", "--images", images, "--pairs", pairs, "--alignment", "sideways"},
		{"eval", "lfw", "--images", images, "--pairs", pairs, "--threshold", "-1"},
	} {
		if r := run(t, bad...); r.code != ExitUsage || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q: want a usage error", bad, r.code, r.stderr)
		}
	}
	if r := run(t, "eval", "lfw", "--images", images, "--pairs", images); r.code != ExitError || !strings.Contains(r.stderr, "pairs") {
		t.Errorf("a directory as pairs file: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestEvalIdentify: known people from the crops, probes their mirror images and a stranger.
func TestEvalIdentify(t *testing.T) {
	images, _ := evalSet(t)
	dir := t.TempDir()
	known, probes := filepath.Join(dir, "known"), filepath.Join(dir, "probes")
	for _, d := range []string{known, probes} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(src, dst string) {
		if err := os.Symlink(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"A0", "A1", "A2", "B0", "B1"} {
		link(filepath.Join(images, p, p+"_0001.jpg"), filepath.Join(known, p+".jpg"))
		link(filepath.Join(images, p, p+"_0002.jpg"), filepath.Join(probes, p+"_2.jpg"))
	}
	link(filepath.Join(images, "C0", "C0_0001.jpg"), filepath.Join(probes, "C0.jpg"))           // not known
	link(filepath.Join(images, "Nobody", "Nobody_0001.jpg"), filepath.Join(probes, "B0_3.jpg")) // no face
	r := run(t, "eval", "identify", "--known", known, "--probes", probes)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"identification: 5 known photos of 5 people (0 without a detected face, used whole), 7 probes (alignment dlib-steady, threshold 0.600)",
		// Five of six found (the blank one counts as unknown), each nearest to the right
		// person; whether a mirror image is within the threshold is the net's business.
		"probes of known people: 6; rank-1 83.33 %, named right ",
		"named wrong 0.00 %",
		"probes of other people: 1; named as someone known 0.00 %",
		"probes without a detected face: 1",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := run(t, "eval", "identify", "--known", known); r.code != ExitUsage {
		t.Errorf("no --probes: exit %d", r.code)
	}
}
