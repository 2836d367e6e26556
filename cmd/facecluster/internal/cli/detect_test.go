package cli

// Tests of detect, identify and compare run the real facecluster binary (built once per test
// run) with the real models on the npm demo photos, as a user would, and check what it prints
// and its exit status.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/testutil"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/facecluster once into a temporary directory.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "facecluster-cli-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "facecluster")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/facecluster/facecluster/cmd/facecluster").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build facecluster: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the binary with the test models and returns what it printed and its exit status.
func run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "FACECLUSTER_MODELS_DIR="+testutil.ModelsDir(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	r := result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("facecluster %v crashed:\n%s", args, r.stderr)
	}
	return r
}

func lines(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// referenceFaces reads the reference SSD boxes ([x, y, w, h]) of a demo photo.
func referenceFaces(t *testing.T, name string) [][4]float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "face", "testdata", "reference-npm-samples.json"))
	if err != nil {
		b, err = os.ReadFile(filepath.Join(testutil.SharedTestdata(t), "reference-npm-samples.json"))
	}
	if err != nil {
		t.Fatal(err)
	}
	return parseReference(t, b, name)
}

// parseReference returns the SSD boxes of one image of a reference*.json file.
func parseReference(t *testing.T, b []byte, name string) [][4]float64 {
	t.Helper()
	var ref struct {
		Images map[string]struct {
			SSD []struct {
				Box [4]float64 `json:"box"`
			} `json:"ssd_mobilenetv1_min0_5"`
		} `json:"images"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	var boxes [][4]float64
	for _, f := range ref.Images[name].SSD {
		boxes = append(boxes, f.Box)
	}
	return boxes
}

// writeImage saves img as PNG or JPEG (by extension) at path.
func writeImage(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// cropFace cuts the reference face i of a demo photo out with a margin of half the box on every
// side (enough for the detector to find it again) and saves it at path.
func cropFace(t *testing.T, photo string, i int, path string) {
	t.Helper()
	img, _, err := imageio.DecodeFile(filepath.Join(testutil.DemoDir(t), photo), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := referenceFaces(t, photo)[i]
	r := image.Rect(int(b[0]-b[2]/2), int(b[1]-b[3]/2), int(b[0]+1.5*b[2]), int(b[1]+1.5*b[3])).Intersect(img.Bounds())
	writeImage(t, path, imageio.ToRGBA(img).SubImage(r))
}

// blank saves a plain grey image, in which there is no face.
func blank(t *testing.T, path string) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range img.Pix {
		img.Pix[i] = 140
	}
	writeImage(t, path, img)
}

func TestDetectDemoPhoto(t *testing.T) {
	photo := filepath.Join(testutil.DemoDir(t), "sample1.jpg")
	r := run(t, "detect", photo)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	ref := referenceFaces(t, "sample1.jpg")
	got := lines(r.stdout)
	if len(got) != len(ref) {
		t.Fatalf("%d lines, want one per reference face (%d):\n%s", len(got), len(ref), r.stdout)
	}
	checkDetectLines(t, got, photo, ref)
}

// checkDetectLines checks that every detect line of photo is one of the reference boxes (±3 px).
func checkDetectLines(t *testing.T, got []string, photo string, ref [][4]float64) {
	t.Helper()
	for _, line := range got {
		f := strings.Split(line, ",")
		if len(f) != 6 || f[0] != photo {
			t.Fatalf("line %q: want path,top,right,bottom,left,score", line)
		}
		var v [5]float64
		for i := range v {
			var err error
			if v[i], err = strconv.ParseFloat(f[i+1], 64); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
		}
		top, right, bottom, left, score := v[0], v[1], v[2], v[3], v[4]
		matched := false
		for _, b := range ref { // reference box [x, y, w, h]
			if math.Abs(left-b[0]) <= 3 && math.Abs(top-b[1]) <= 3 && math.Abs(right-(b[0]+b[2])) <= 3 && math.Abs(bottom-(b[1]+b[3])) <= 3 {
				matched = true
			}
		}
		if !matched || score < 0.5 || score > 1 {
			t.Errorf("line %q matches no reference face %v", line, ref)
		}
	}
}

func TestSharedFixtures(t *testing.T) {
	shared := testutil.SharedTestdata(t)
	ref, err := os.ReadFile(filepath.Join(shared, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	faces, white := filepath.Join(shared, "faces.jpg"), filepath.Join(shared, "white.png")
	r := run(t, "detect", faces, white)
	if r.code != ExitOK {
		t.Fatalf("detect: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	want := parseReference(t, ref, "faces.jpg")
	if got := lines(r.stdout); len(got) != len(want) || len(want) != 6 {
		t.Errorf("detect faces.jpg white.png: %d lines, want the 6 faces of faces.jpg:\n%s", len(got), r.stdout)
	} else {
		checkDetectLines(t, got, faces, want)
	}

	// face1.png and face2.png are portraits, one face filling each: the default detector finds
	// it, the reference's single SSD pass (ssd-raw) does not.
	face1, face2 := filepath.Join(shared, "face1.png"), filepath.Join(shared, "face2.png")
	r = run(t, "detect", face1, face2)
	if got := lines(r.stdout); r.code != ExitOK || len(got) != 2 || !strings.HasPrefix(got[0], face1+",") || !strings.HasPrefix(got[1], face2+",") {
		t.Errorf("detect face1.png face2.png: exit %d, printed\n%s\nwant one face in each", r.code, r.stdout)
	}
	if r = run(t, "detect", "--detector", "ssd-raw", face1, face2); r.code != ExitNotFound {
		t.Errorf("detect --detector ssd-raw face1.png face2.png: exit %d, want %d (no face)", r.code, ExitNotFound)
	}

	// Where the detector finds no face, known photos are used whole; as queries with
	// --assume-cropped they find themselves.
	known := t.TempDir()
	for name, file := range map[string]string{"alice.png": "face1.png", "bob_1.png": "face2.png"} {
		if err := os.Symlink(filepath.Join(shared, file), filepath.Join(known, name)); err != nil {
			t.Fatal(err)
		}
	}
	r = run(t, "identify", "--detector", "ssd-raw", "--known", known, "--assume-cropped", "--show-distance", face2, face1, faces)
	if r.code != ExitOK {
		t.Fatalf("identify: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	got := lines(r.stdout)
	if len(got) != 8 || got[0] != face2+",bob,0.0000" || got[1] != face1+",alice,0.0000" {
		t.Errorf("identify printed\n%s\nwant bob and alice at distance 0, then the 6 faces of faces.jpg", r.stdout)
	}
	if n := strings.Count(r.stderr, "no face found in known photo"); n != 2 {
		t.Errorf("%d whole-image warnings, want 2:\n%s", n, r.stderr)
	}
}

func TestDetectJSONAndAnnotate(t *testing.T) {
	dir := t.TempDir()
	photo := filepath.Join(dir, "group.jpg")
	cropFace(t, "sample6.jpg", 0, photo)
	// The same photo stored turned a quarter left, with the EXIF tag that says to turn it right.
	turned := filepath.Join(dir, "turned.jpg")
	writeTurnedWithEXIF(t, photo, turned)
	out := filepath.Join(dir, "annotated")
	r := run(t, "detect", "--json", "--annotate", out, photo, turned)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var img, upright jsonImage
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&img); err != nil {
		t.Fatalf("output is not JSON lines: %v\n%s", err, r.stdout)
	}
	if err := dec.Decode(&upright); err != nil {
		t.Fatalf("output is not JSON lines: %v\n%s", err, r.stdout)
	}
	if upright.Width != img.Width || upright.Height != img.Height || len(upright.Faces) != 1 || len(img.Faces) != 1 ||
		math.Abs(upright.Faces[0].Box.X-img.Faces[0].Box.X) > 3 || math.Abs(upright.Faces[0].Box.Y-img.Faces[0].Box.Y) > 3 {
		t.Errorf("EXIF-turned copy: %+v, want the face of the upright photo %+v", upright, img)
	}
	if img.Path != photo || len(img.Faces) != 1 {
		t.Fatalf("got %+v, want one face in %s", img, photo)
	}
	f := img.Faces[0]
	if len(f.Landmarks) != 68 || len(f.Descriptor) != 128 || f.Score < 0.5 || f.Box.W < 50 {
		t.Errorf("face has %d landmarks, %d descriptor values, score %v, box %+v", len(f.Landmarks), len(f.Descriptor), f.Score, f.Box)
	}
	annotated, info, err := imageio.DecodeFile(filepath.Join(out, "group.jpg"), imageio.Limits{})
	if err != nil {
		t.Fatalf("annotated copy: %v", err)
	}
	if info.Width != img.Width || info.Height != img.Height {
		t.Errorf("annotated copy is %d×%d, want %d×%d", info.Width, info.Height, img.Width, img.Height)
	}
	// The box's left edge is drawn in blue (3 pixels wide at this size).
	c := color.NRGBAModel.Convert(annotated.At(int(math.Round(f.Box.X))+1, int(f.Box.Y+f.Box.H/2))).(color.NRGBA)
	if int(c.B)-int(c.R) < 60 || int(c.B)-int(c.G) < 60 {
		t.Errorf("pixel on the box edge is %v, want the box colour (blue)", c)
	}
}

// TestAnnotateEveryInput: each input gets its own annotated copy, named after it in argument
// order (the same file twice is two inputs), readable like any file the user makes (0644 less
// the umask).
func TestAnnotateEveryInput(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o022)) // the binary inherits it
	dir := t.TempDir()
	photo, other := filepath.Join(dir, "group.jpg"), filepath.Join(dir, "other", "group.png")
	cropFace(t, "sample6.jpg", 0, photo)
	if err := os.Mkdir(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	blank(t, other)
	out := filepath.Join(dir, "annotated")
	r := run(t, "detect", "--annotate", out, "--cpus", "2", photo, other, photo)
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	want := map[string]image.Point{ // the copy → its input's size
		"group.jpg":   imageSize(t, photo),
		"group-2.jpg": imageSize(t, other),
		"group-3.jpg": imageSize(t, photo),
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("annotated copies %v, want %d: one per input", entries, len(want))
	}
	for name, size := range want {
		path := filepath.Join(out, name)
		if got := imageSize(t, path); got != size {
			t.Errorf("%s is %v, want %v (its input's size)", name, got, size)
		}
		if st, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want -rw-r--r--", name, st.Mode().Perm())
		}
	}
}

func imageSize(t *testing.T, path string) image.Point {
	t.Helper()
	_, info, err := imageio.DecodeFile(path, imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return image.Pt(info.Width, info.Height)
}

// writeTurnedWithEXIF stores the image at src turned 90° counter-clockwise as a JPEG whose EXIF
// orientation (6) tells viewers to turn it back clockwise.
func writeTurnedWithEXIF(t *testing.T, src, dst string) {
	t.Helper()
	img, _, err := imageio.DecodeFile(src, imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	turned := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			turned.Set(y, b.Dx()-1-x, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, turned, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	// APP1 "Exif\0\0" + big-endian TIFF with one IFD0 entry: Orientation (0x0112), SHORT, 1, value 6.
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	seg := append([]byte{0xFF, 0xE1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}, app1...)
	jpg := buf.Bytes()
	out := append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDetectExitStatus(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.png")
	blank(t, empty)
	broken := filepath.Join(dir, "broken.jpg")
	if err := os.WriteFile(broken, []byte("\xff\xd8\xff\xe0 this is not really a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	photo := filepath.Join(dir, "face.jpg")
	cropFace(t, "sample6.jpg", 0, photo)

	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutLine int // number of stdout lines
		stderrHas  string
	}{
		{"no face anywhere", []string{"detect", empty}, ExitNotFound, 0, ""},
		{"a broken file among good ones", []string{"detect", broken, photo}, ExitError, 1, broken},
		{"unknown detector", []string{"detect", "--detector", "cnn", photo}, ExitUsage, 0, "cnn"},
		{"bad input size", []string{"detect", "--detector", "tiny", "--input-size", "100", photo}, ExitUsage, 0, "--input-size"},
		{"tile size too small", []string{"detect", "--tile-size", "64", photo}, ExitUsage, 0, "--tile-size"},
		{"tiles with tiny", []string{"detect", "--detector", "tiny", "--tile-size", "384", photo}, ExitUsage, 0, "--tile-size"},
		{"tiles", []string{"detect", "--tile-size", "128", photo}, ExitOK, 1, ""},
		{"no arguments", []string{"detect"}, ExitUsage, 0, "arg"},
		{"missing file", []string{"detect", filepath.Join(dir, "nope.jpg")}, ExitError, 0, "nope.jpg"},
		{"missing models", []string{"detect", "--models-dir", dir, photo}, ExitError, 0, "make models"},
		{"too many pixels", []string{"detect", "--max-pixels", "1000", photo}, ExitError, 0, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.args...)
			if r.code != tt.code || len(lines(r.stdout)) != tt.stdoutLine || !strings.Contains(r.stderr, tt.stderrHas) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, %d lines, stderr with %q", r.code, r.stdout, r.stderr, tt.code, tt.stdoutLine, tt.stderrHas)
			}
		})
	}
}

func TestDetectDirectoryInParallel(t *testing.T) {
	dir := t.TempDir()
	for i, photo := range []string{"sample6.jpg", "sample5.jpg"} {
		cropFace(t, photo, 0, filepath.Join(dir, "face"+strconv.Itoa(i)+".png"))
	}
	blank(t, filepath.Join(dir, "blank.png"))
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	one := run(t, "detect", "--detector", "tiny", dir)
	two := run(t, "detect", "--detector", "tiny", "--cpus", "2", dir)
	if one.code != ExitOK || two.code != ExitOK {
		t.Fatalf("exit %d / %d, stderr:\n%s\n%s", one.code, two.code, one.stderr, two.stderr)
	}
	if len(lines(one.stdout)) != 2 || one.stdout != two.stdout {
		t.Errorf("--cpus 1 printed\n%s--cpus 2 printed\n%swant the same two faces in the same order", one.stdout, two.stdout)
	}
}

func TestDetectInterrupted(t *testing.T) {
	// Ctrl-C (SIGINT) in the middle of a long run: the images done so far are printed whole,
	// the one in progress is dropped, and the command says "interrupted" and exits 1.
	demo := testutil.DemoDir(t)
	args := []string{"detect", "--json"}
	for range 10 {
		args = append(args, demo)
	}
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "FACECLUSTER_MODELS_DIR="+testutil.ModelsDir(t))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer kill.Stop()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	var printed []string
	for sc.Scan() {
		if len(printed) == 0 {
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
		}
		printed = append(printed, sc.Text())
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != ExitError || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit %d (%v), stderr %q; want 1 and \"interrupted\"", code, err, stderr.String())
	}
	if len(printed) == 0 || len(printed) >= 10*6 {
		t.Errorf("%d images printed, want some but not all", len(printed))
	}
	for _, line := range printed {
		var img jsonImage
		if err := json.Unmarshal([]byte(line), &img); err != nil || img.Error != "" {
			t.Errorf("line %.100q: %v %q; want a complete result", line, err, img.Error)
		}
	}
}
