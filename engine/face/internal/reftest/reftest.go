// Package reftest reads the reference implementation's outputs (reference.json and
// reference-npm-samples.json, made by face-api.js 1.7.15 on tfjs 4.22) and decodes their images
// the way the reference runner did, for the parity tests of the face packages.
package reftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
)

// File is one reference*.json.
type File struct {
	Generator string           `json:"generator"`
	Images    map[string]Image `json:"images"`
}

// Image holds the reference outputs for one image.
type Image struct {
	Width           int          `json:"width"`
	Height          int          `json:"height"`
	SSD             []Face       `json:"ssd_mobilenetv1_min0_5"`
	Tiny320         []Detection  `json:"tiny_face_detector_320_min0_5"`
	Tiny416         []Detection  `json:"tiny_face_detector_416_min0_5"`
	Tiny608         []Detection  `json:"tiny_face_detector_608_min0_5"`
	WholeDescriptor []float32    `json:"whole_image_descriptor"`
	WholeLandmarks  [][2]float64 `json:"whole_image_landmarks68"`
}

// Detection is a detector's box [x,y,w,h] in image pixels and score.
type Detection struct {
	Score float64    `json:"score"`
	Box   [4]float64 `json:"box"`
}

// Face is one face of the full pipeline (SSD, landmarks, descriptor).
type Face struct {
	Detection
	AlignedBox [4]float64   `json:"aligned_box"`
	Landmarks  [][2]float64 `json:"landmarks68"`
	Descriptor []float32    `json:"descriptor"`
}

// Set is a reference file with the directory holding its images.
type Set struct {
	Name     string // "shared" or "npm-samples"
	ImageDir string
	File
	mu    sync.Mutex
	cache map[string]decoded
}

// Names returns the image names, sorted.
func (s *Set) Names() []string {
	var n []string
	for k := range s.Images {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// Exact reports whether Decode gives the very pixels the reference saw: PNGs are lossless and
// baseline JPEGs are decoded like jpeg-js (see jpegjs.go); progressive JPEGs fall back to
// image/jpeg, whose pixels differ by ±1 level on a few percent of the pixels.
func (s *Set) Exact(t testing.TB, name string) bool {
	t.Helper()
	return s.decode(t, name).exact
}

// Decode decodes one of the set's images without applying EXIF orientation, as the reference
// runner did. Results are cached per set.
func (s *Set) Decode(t testing.TB, name string) image.Image {
	t.Helper()
	return s.decode(t, name).img
}

type decoded struct {
	img   image.Image
	exact bool
}

func (s *Set) decode(t testing.TB, name string) decoded {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.cache[name]; ok {
		return d
	}
	data, err := os.ReadFile(filepath.Join(s.ImageDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var d decoded
	if strings.HasSuffix(name, ".png") {
		d.img, err = png.Decode(bytes.NewReader(data))
		d.exact = true
	} else if img, jerr := decodeJPEGJS(data); jerr == nil {
		d.img, d.exact = img, true
	} else if errors.Is(jerr, errJPEGUnsupported) {
		d.img, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		err = jerr
	}
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	if s.cache == nil {
		s.cache = make(map[string]decoded)
	}
	s.cache[name] = d
	return d
}

// NPMSamples loads face/testdata/reference-npm-samples.json with the demo photos of the
// installed npm package; it always runs.
func NPMSamples(t testing.TB) *Set {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(self), "..", "..", "testdata", "reference-npm-samples.json")
	return load(t, "npm-samples", path, testutil.DemoDir(t))
}

// Shared loads ../shared/faceapi-testdata/reference.json, skipping the test when it is absent.
func Shared(t testing.TB) *Set {
	t.Helper()
	dir := testutil.SharedTestdata(t)
	return load(t, "shared", filepath.Join(dir, "reference.json"), dir)
}

var (
	setsMu sync.Mutex
	sets   = map[string]*Set{} // by path: loaded once per test binary, decoded images cached
)

func load(t testing.TB, name, path, imageDir string) *Set {
	t.Helper()
	setsMu.Lock()
	defer setsMu.Unlock()
	if s, ok := sets[path]; ok {
		return s
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Set{Name: name, ImageDir: imageDir}
	if err := json.Unmarshal(b, &s.File); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(s.Images) == 0 {
		t.Fatalf("%s: no images", path)
	}
	sets[path] = s
	return s
}

// L2 is the Euclidean distance between two descriptors.
func L2(a []float32, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// MaxPointDist is the largest distance between corresponding points.
func MaxPointDist(got [][2]float64, want [][2]float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var m float64
	for i := range got {
		m = max(m, math.Hypot(got[i][0]-want[i][0], got[i][1]-want[i][1]))
	}
	return m
}

// String formats a box for messages.
func BoxString(b [4]float64) string {
	return fmt.Sprintf("(%.1f,%.1f %.1f×%.1f)", b[0], b[1], b[2], b[3])
}
