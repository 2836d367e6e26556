package receiver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/store"
)

// TestVerifyWithoutAFaceSaysSo: verifying a face against a picture with no face in it (the
// demo's face-mesh drawing) is answered "no face found", not with a distance computed from the
// whole picture taken silently as a face. Taking a picture whole as a tight crop is a choice
// the client makes (assume_cropped), as with `facecluster compare --assume-cropped`.
func TestVerifyWithoutAFaceSaysSo(t *testing.T) {
	eng := testEngine(t)
	h := newHarness(t, store.DriverSQLite, withRealRecognizer(t, eng))
	crop := faceCrops(t, eng, "sample1.jpg")[0]
	noFace, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), "facemesh.png"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(h.root, "crop.jpg"), crop, 0o644)
	os.WriteFile(filepath.Join(h.root, "mesh.png"), noFace, 0o644)

	ct, body := multipartBody(t, []part{{"a", "crop.jpg", crop}, {"b", "mesh.png", noFace}}, nil)
	r := h.do("POST", "/api/v1/verify", ct, body)
	if r.status != 422 || !strings.Contains(r.errorMessage(t), "mesh.png: no face found") || !strings.Contains(r.errorMessage(t), "assume_cropped") {
		t.Fatalf("verify against a picture without a face: %d %s, want 422 saying so", r.status, r.body)
	}
	if r := h.postJSON("/api/v1/verify", map[string]any{"a": "crop.jpg", "b": "mesh.png"}); r.status != 422 {
		t.Fatalf("verify by path against a picture without a face: %d %s, want 422", r.status, r.body)
	}

	// Asked for, the picture is taken whole as one face.
	var v struct {
		Distance float64
		FacesB   int `json:"faces_b"`
		Same     bool
	}
	ct, body = multipartBody(t, []part{{"a", "crop.jpg", crop}, {"b", "mesh.png", noFace}}, map[string]string{"assume_cropped": "true"})
	if r := h.do("POST", "/api/v1/verify", ct, body); r.status != 200 {
		t.Fatalf("verify with assume_cropped: %d %s", r.status, r.body)
	} else {
		r.json(t, &v)
	}
	if v.FacesB != 1 || v.Same {
		t.Fatalf("verify with assume_cropped: %+v, want one (whole-picture) face, not the same person", v)
	}
	if r := h.postJSON("/api/v1/verify", map[string]any{"a": "crop.jpg", "b": "mesh.png", "assume_cropped": true}); r.status != 200 {
		t.Fatalf("verify by path with assume_cropped: %d %s", r.status, r.body)
	}
}

// TestVerifySameMeansBelowTheThreshold: "same" is decided as everywhere else (the gallery's
// matcher, `facecluster compare`, face-api.js's FaceMatcher): the distance is below the threshold.
// At a threshold exactly equal to the distance the faces are not the same.
func TestVerifySameMeansBelowTheThreshold(t *testing.T) {
	eng := testEngine(t)
	h := newHarness(t, store.DriverSQLite, withRealRecognizer(t, eng))
	crops := faceCrops(t, eng, "sample1.jpg")
	os.WriteFile(filepath.Join(h.root, "a.jpg"), crops[0], 0o644)
	os.WriteFile(filepath.Join(h.root, "b.jpg"), crops[1], 0o644)
	var v struct {
		Distance float64
		Same     bool
	}
	h.postJSON("/api/v1/verify", map[string]any{"a": "a.jpg", "b": "b.jpg"}).json(t, &v)
	if v.Distance <= 0 {
		t.Fatalf("verify: %+v", v)
	}
	d := v.Distance
	h.postJSON("/api/v1/verify", map[string]any{"a": "a.jpg", "b": "b.jpg", "threshold": d}).json(t, &v)
	if v.Distance != d || v.Same {
		t.Fatalf("at threshold = distance %v: %+v, want not the same", d, v)
	}
	h.postJSON("/api/v1/verify", map[string]any{"a": "a.jpg", "b": "b.jpg", "threshold": d * 1.001}).json(t, &v)
	if !v.Same {
		t.Fatalf("at a threshold just above the distance %v: %+v, want the same", d, v)
	}
}
