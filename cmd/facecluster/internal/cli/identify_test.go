package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/testutil"
)

// names counts the names printed for path.
func names(t *testing.T, out, path string, withDistance bool) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, line := range lines(out) {
		f := strings.Split(line, ",")
		if f[0] != path {
			continue
		}
		want := 2
		if withDistance && f[1] != noPersonsFound {
			want = 3
		}
		if len(f) != want {
			t.Fatalf("line %q: want %d fields", line, want)
		}
		if want == 3 {
			if d, err := strconv.ParseFloat(f[2], 64); err != nil || d < 0 || d > 2 {
				t.Fatalf("line %q: distance %q is not a distance", line, f[2])
			}
		}
		got[f[1]]++
	}
	return got
}

func TestIdentify(t *testing.T) {
	demo := testutil.DemoDir(t)
	known := t.TempDir()
	// mary_jane is one face of sample6, cropped; a second photo of her is the same crop re-encoded.
	cropFace(t, "sample6.jpg", 0, filepath.Join(known, "mary_jane_1.jpg"))
	cropFace(t, "sample6.jpg", 0, filepath.Join(known, "mary_jane_2.png"))
	// zed's photo is the whole of sample5 (five faces): the largest face is taken, with a warning.
	if err := os.Symlink(filepath.Join(demo, "sample5.jpg"), filepath.Join(known, "zed.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(known, "notes.txt"), []byte("who is who"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.png")
	blank(t, empty)
	group := filepath.Join(demo, "sample6.jpg")
	other := filepath.Join(demo, "sample1.jpg")

	// The reference descriptors put every other face of these photos at least 0.64 from
	// mary_jane's face; a tolerance of 0.5 leaves room for the crop's own small difference.
	annotated := t.TempDir()
	r := run(t, "identify", "--known", known, "--tolerance", "0.5", "--show-distance", "--cpus", "2", "--annotate", annotated, group, empty, other)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// One annotated copy per input, the size of the input.
	for in, out := range map[string]string{group: "sample6.jpg", empty: "empty.jpg", other: "sample1.jpg"} {
		_, want, err := imageio.DecodeFile(in, imageio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := imageio.DecodeFile(filepath.Join(annotated, out), imageio.Limits{})
		if err != nil || got.Width != want.Width || got.Height != want.Height {
			t.Errorf("annotated copy of %s: %+v, %v; want a %d×%d JPEG", in, got, err, want.Width, want.Height)
		}
	}
	if got := names(t, r.stdout, group, true); got["mary_jane"] != 1 || got["mary_jane"]+got[unknownPerson] != 4 {
		t.Errorf("sample6: names %v, want mary_jane once and unknown_person for the other three\n%s", got, r.stdout)
	}
	if got := names(t, r.stdout, other, true); got[unknownPerson] != 3 {
		t.Errorf("sample1: names %v, want three unknown_person\n%s", got, r.stdout)
	}
	if got := names(t, r.stdout, empty, true); got[noPersonsFound] != 1 || len(got) != 1 {
		t.Errorf("blank image: names %v, want no_persons_found\n%s", got, r.stdout)
	}
	// Output follows the order of the arguments whatever the parallelism.
	var order []string
	for _, line := range lines(r.stdout) {
		if p := strings.Split(line, ",")[0]; !slices.Contains(order, p) {
			order = append(order, p)
		}
	}
	if !slices.Equal(order, []string{group, empty, other}) {
		t.Errorf("images printed in the order %v, want the arguments' order", order)
	}
	for _, warning := range []string{"notes.txt", "faces found: crop the photo to the person's face alone; using it anyway"} {
		if !strings.Contains(r.stderr, warning) {
			t.Errorf("stderr lacks a warning about %q:\n%s", warning, r.stderr)
		}
	}
}

func TestIdentifyWholeImageCrops(t *testing.T) {
	// A known photo without a detectable face is used whole, with a warning; --assume-cropped
	// does the same for the images to identify, so the same picture is found at distance 0.
	known := t.TempDir()
	blank(t, filepath.Join(known, "grey.png"))
	query := filepath.Join(t.TempDir(), "query.png")
	blank(t, query)

	r := run(t, "identify", "--known", known, "--show-distance", "--assume-cropped", query)
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != query+",grey,0.0000" {
		t.Errorf("exit %d, stdout %q; want %q", r.code, r.stdout, query+",grey,0.0000")
	}
	if !strings.Contains(r.stderr, "no face found in known photo") {
		t.Errorf("stderr lacks the whole-image warning:\n%s", r.stderr)
	}

	r = run(t, "identify", "--known", known, query)
	if r.code != ExitNotFound || strings.TrimSpace(r.stdout) != query+","+noPersonsFound {
		t.Errorf("without --assume-cropped: exit %d, stdout %q; want %d and no_persons_found", r.code, r.stdout, ExitNotFound)
	}
}

func TestIdentifyUsage(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "x.png")
	blank(t, img)
	tests := []struct {
		name      string
		args      []string
		code      int
		stderrHas string
	}{
		{"no --known", []string{"identify", img}, ExitUsage, "--known"},
		{"bad tolerance", []string{"identify", "--known", dir, "--tolerance", "-1", img}, ExitUsage, "--tolerance"},
		{"missing known folder", []string{"identify", "--known", filepath.Join(dir, "nobody"), img}, ExitError, "nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.args...)
			if r.code != tt.code || r.stdout != "" || !strings.Contains(r.stderr, tt.stderrHas) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr with %q", r.code, r.stdout, r.stderr, tt.code, tt.stderrHas)
			}
		})
	}
}
