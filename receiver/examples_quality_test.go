package receiver

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/internal/testutil"
)

// TestExamplePhotosAreChecked enrols through the real handlers, recognizer and store: a blurred
// photo is refused with what to fix and nothing is written; allow_low_quality enrols it with
// the problem as a warning; a photo in which no face was found is enrolled whole, and the
// answer says so.
func TestExamplePhotosAreChecked(t *testing.T) {
	eng := testEngine(t)
	forEachDriver(t, func(t *testing.T, driver string) { testExamplePhotosAreChecked(t, eng, driver) })
}

type exampleAnswer struct {
	Examples []struct {
		Example        exampleJSON
		WholeImageUsed bool `json:"whole_image_used"`
		Quality        struct {
			FaceSize  float64 `json:"face_size"`
			Sharpness float64
			Yaw       float64
		}
		Warnings []string
	}
}

func testExamplePhotosAreChecked(t *testing.T, eng *face.Engine, driver string) {
	h := newHarness(t, driver, withRealRecognizer(t, eng))
	shared := testutil.SharedTestdata(t)
	portrait, err := os.ReadFile(filepath.Join(shared, "angry.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	blurry := smeared(t, portrait)
	noFace := testutil.TightFaceCrop(t)
	var p personJSON
	h.postJSON("/api/v1/people", map[string]string{"name": "Ann"}).json(t, &p)
	examples := fmt.Sprintf("/api/v1/people/%d/examples", p.ID)

	ct, body := multipartBody(t, []part{{"file", "blurry.jpg", blurry}}, nil)
	r := h.do("POST", examples, ct, body)
	if msg := r.errorMessage(t); r.status != 422 || !strings.Contains(msg, "blurry.jpg: ") || !strings.Contains(msg, "the face is too blurred") || !strings.Contains(msg, "allow_low_quality") {
		t.Fatalf("blurred photo: %d %q, want 422 saying it is too blurred", r.status, msg)
	}
	var exs struct{ Examples []exampleJSON }
	if h.do("GET", examples, "", nil).json(t, &exs); len(exs.Examples) != 0 {
		t.Fatalf("a refused photo was enrolled: %+v", exs.Examples)
	}

	var ans exampleAnswer
	ct, body = multipartBody(t, []part{{"file", "blurry.jpg", blurry}}, map[string]string{"allow_low_quality": "true"})
	if r := h.do("POST", examples, ct, body); r.status != 201 {
		t.Fatalf("blurred photo with allow_low_quality: %d %s", r.status, r.body)
	} else if r.json(t, &ans); len(ans.Examples) != 1 || !strings.Contains(strings.Join(ans.Examples[0].Warnings, "|"), "too blurred") {
		t.Fatalf("blurred photo with allow_low_quality: %s, want a warning", r.body)
	}

	// The same by path, in JSON.
	if err := os.WriteFile(filepath.Join(h.root, "blurry.jpg"), blurry, 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.postJSON(examples, map[string]any{"path": "blurry.jpg"})
	if msg := r.errorMessage(t); r.status != 422 || !strings.Contains(msg, "the face is too blurred") {
		t.Fatalf("blurred photo by path: %d %q, want 422 saying it is too blurred", r.status, msg)
	}
	if r := h.postJSON(examples, map[string]any{"path": "blurry.jpg", "allow_low_quality": true}); r.status != 201 {
		t.Fatalf("blurred photo by path with allow_low_quality: %d %s", r.status, r.body)
	}

	ct, body = multipartBody(t, []part{{"file", "portrait.jpg", portrait}, {"file", "face-crop.png", noFace}}, nil)
	r = h.do("POST", examples, ct, body)
	if r.status != 201 {
		t.Fatalf("portrait and face-crop.png: %d %s", r.status, r.body)
	}
	r.json(t, &ans)
	if len(ans.Examples) != 2 {
		t.Fatalf("answer %s", r.body)
	}
	if a := ans.Examples[0]; a.WholeImageUsed || len(a.Warnings) != 0 || a.Quality.FaceSize < enroll.DefaultQualityLimits.MinFaceSize || a.Quality.Sharpness < enroll.DefaultQualityLimits.MinSharpness {
		t.Errorf("portrait: %+v, want a clean answer with its quality", a)
	}
	if a := ans.Examples[1]; !a.WholeImageUsed || len(a.Warnings) != 1 || a.Warnings[0] != enroll.WholeImageNotice {
		t.Errorf("face-crop.png: %+v, want whole_image_used and the notice %q", a, enroll.WholeImageNotice)
	}
	// A photo given as a crop (whole_image) is not one in which no face was found.
	ct, body = multipartBody(t, []part{{"file", "crop.jpg", portrait}}, map[string]string{"whole_image": "true"})
	if r := h.do("POST", examples, ct, body); r.status != 201 {
		t.Fatalf("whole_image: %d %s", r.status, r.body)
	} else if r.json(t, &ans); len(ans.Examples) != 1 || !ans.Examples[0].WholeImageUsed || len(ans.Examples[0].Warnings) != 0 {
		t.Fatalf("whole_image: %s, want whole_image_used and no warning", r.body)
	}
	if h.do("GET", examples, "", nil).json(t, &exs); len(exs.Examples) != 5 {
		t.Fatalf("%d examples, want 5", len(exs.Examples))
	}
}

// smeared is a JPEG photo as a shaky hand takes it: shrunk to a sixteenth and blown up again.
func smeared(t *testing.T, photo []byte) []byte {
	t.Helper()
	img, _, err := imageio.Decode(bytes.NewReader(photo), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	small := image.NewRGBA(image.Rect(0, 0, b.Dx()/16, b.Dy()/16))
	xdraw.CatmullRom.Scale(small, small.Bounds(), img, b, xdraw.Src, nil)
	big := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	xdraw.BiLinear.Scale(big, big.Bounds(), small, small.Bounds(), xdraw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, big, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
