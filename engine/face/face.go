// Package face finds faces in images, places their 68 landmarks and computes their 128-d
// descriptors with the face-api.js networks (weights of @vladmandic/face-api 1.7.15), natively in
// Go and faithful to the reference implementation: same detections (DetectorSSDRaw, TinyFaceDetector),
// landmarks, crop and descriptors within rounding. The default detector adds to the reference's
// SSD pass a second one that finds the faces filling most of the photo, which the reference misses.
//
// Load an Engine once (it verifies the weights' checksums) and share it: it is safe for
// concurrent use. Analyze does everything for every face of an image; Detect, Landmarks,
// Describe and DescribeWhole are its steps. Boxes and points are in pixels of the image passed
// in. Descriptors are compared with Distance (Euclidean; below DefaultThreshold, 0.6, the reference
// takes two descriptors for the same person). Where one face of a photo stands for the photo
// (comparing two photos, enrolling a photo), Primary chooses it. The face is cut out for the
// recognition net as dlib does (AlignDlibSteady, the default, or AlignDlib) or as face-api.js
// does (AlignFaceAPI, the reference's descriptors).
package face

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// The reference implementation's defaults.
const (
	DefaultMinConfidence = 0.5 // SSD MobileNetV1 minConfidence, TinyFaceDetector scoreThreshold
	DefaultMaxResults    = 100 // SSD MobileNetV1 maxResults
	DefaultInputSize     = 416 // TinyFaceDetector inputSize
	// MinTileSize is the smallest Options.TileSize: below it the tiles would multiply (and
	// SSD upscales them) for faces smaller than the landmark and recognition nets can use.
	MinTileSize = 128
)

// DefaultThreshold is the distance strictly below which the reference's matcher (face-api.js's
// FaceMatcher) takes two descriptors, or a descriptor and a person's mean, for the same person.
// It is the one default of every match threshold in facecluster — the recognizer's, the
// gallery's callers', compare's and identify's --tolerance, the --match-threshold flag — and
// float32 like Distance, so a threshold compares with a distance without conversion.
const DefaultThreshold float32 = 0.6

// Detector chooses the face detector.
type Detector int

const (
	// DetectorSSD is SSD MobileNetV1 run twice, on the photo as face-api.js runs it and on the
	// photo centred on a mid-grey square SSDMargin of its long side wider each side, the faces
	// of both merged (the default). The second pass finds the faces that fill most of the
	// photo — portraits, enrolment photos, LFW — which SSD misses at the photo's own scale, and
	// must confirm the first pass's faces larger than 60 % of the photo, mostly false at that
	// scale; it doubles the detector's cost.
	DetectorSSD  Detector = iota
	DetectorTiny          // TinyFaceDetector (faster, less accurate on small faces)
	// DetectorSSDRaw is SSD MobileNetV1 exactly as face-api.js runs it: one pass on the photo
	// padded black at the bottom or right to a square. The reference's detections (the parity
	// tests); it misses most faces that fill the frame.
	DetectorSSDRaw
)

// SSDMargin is the grey margin, as a fraction of the photo's long side on each side, of
// DetectorSSD's second pass: at 0.5 a face filling the photo takes half of SSD's input.
// Chosen on LFW and face-free photos (docs/benchmarks.md, "Detection recall").
const SSDMargin = 0.5

func (d Detector) String() string {
	switch d {
	case DetectorSSD:
		return "ssd"
	case DetectorTiny:
		return "tiny"
	case DetectorSSDRaw:
		return "ssd-raw"
	}
	return fmt.Sprintf("Detector(%d)", int(d))
}

// ParseDetector accepts "ssd", "ssd-raw" and "tiny" (any case).
func ParseDetector(s string) (Detector, error) {
	switch strings.ToLower(s) {
	case "ssd", "ssd_mobilenetv1", "ssdmobilenetv1":
		return DetectorSSD, nil
	case "ssd-raw", "ssd_raw":
		return DetectorSSDRaw, nil
	case "tiny", "tiny_face_detector", "tinyfacedetector":
		return DetectorTiny, nil
	}
	return 0, fmt.Errorf("unknown face detector %q (want ssd, ssd-raw or tiny)", s)
}

// Options tune detection and description. The zero value is the reference's detection
// defaults but for the detector's second pass (DetectorSSD; DetectorSSDRaw is the reference's):
// SSD MobileNetV1, minimum confidence 0.5, at most 100 faces, the full landmark net; with
// DefaultAlignment (Alignment AlignFaceAPI gives the reference's descriptors too).
type Options struct {
	Detector      Detector
	MinConfidence float64 // 0 = DefaultMinConfidence; in (0, 1)
	MaxResults    int     // SSD only; 0 = DefaultMaxResults
	InputSize     int     // TinyFaceDetector only: multiple of 32 in 128..608; 0 = DefaultInputSize
	MinFaceSize   int     // faces whose box is narrower or shorter than this many pixels are dropped
	// TileSize, when not 0, also runs SSD (DetectorSSD, DetectorSSDRaw) on overlapping
	// TileSize×TileSize squares of the photo (a quarter of a tile overlapping the next), for
	// faces too small to find in the whole photo, which SSD sees at most 512 pixels wide: a
	// 40-pixel face in a 1920×1080 photo with 384. It costs one SSD pass per tile (28 for
	// 1920×1080 at 384). Photos no larger than a tile are not tiled. 0 or ≥ MinTileSize.
	TileSize      int
	WholeImage    bool // Analyze: skip detection, the whole image is one face crop
	TinyLandmarks bool // use the tiny 68-landmark net (faster, less precise)
	// Alignment is how faces are cut out for the recognition net (AlignDefault =
	// DefaultAlignment); it decides the descriptors' version (Alignment.DescriptorVersion).
	Alignment Alignment
	// Workers is how many goroutines one call may use (0 = 1): SSD splits its layers into bands
	// of rows, the faces' landmarks are found concurrently and the faces are described in one
	// batch per worker (one batch in all with 1 worker, which reads the recognition net's
	// weights least often). Lower latency for one image on idle cores; where images are
	// already processed one per core, keep 1.
	Workers int
}

func (o Options) withDefaults() (Options, error) {
	if o.MinConfidence == 0 {
		o.MinConfidence = DefaultMinConfidence
	}
	if o.MaxResults == 0 {
		o.MaxResults = DefaultMaxResults
	}
	if o.InputSize == 0 {
		o.InputSize = DefaultInputSize
	}
	switch {
	case o.Detector != DetectorSSD && o.Detector != DetectorTiny && o.Detector != DetectorSSDRaw:
		return o, fmt.Errorf("face: unknown detector %v", o.Detector)
	case math.IsNaN(o.MinConfidence) || o.MinConfidence <= 0 || o.MinConfidence >= 1:
		return o, fmt.Errorf("face: minimum confidence %v outside (0, 1)", o.MinConfidence)
	case o.MaxResults < 0:
		return o, fmt.Errorf("face: negative maximum number of faces %d", o.MaxResults)
	case o.InputSize%32 != 0 || o.InputSize < 128 || o.InputSize > 608:
		return o, fmt.Errorf("face: tiny detector input size %d is not a multiple of 32 in 128..608", o.InputSize)
	case o.TileSize != 0 && o.TileSize < MinTileSize:
		return o, fmt.Errorf("face: tile size %d below %d pixels", o.TileSize, MinTileSize)
	case o.TileSize != 0 && o.Detector == DetectorTiny:
		return o, errors.New("face: tiling needs an SSD detector (ssd or ssd-raw), not tiny")
	case o.Alignment < AlignDefault || o.Alignment > AlignDlibSteady:
		return o, fmt.Errorf("face: unknown alignment %v", o.Alignment)
	case o.MinFaceSize < 0:
		return o, fmt.Errorf("face: negative minimum face size %d", o.MinFaceSize)
	case o.Workers < 0:
		return o, fmt.Errorf("face: negative number of workers %d", o.Workers)
	}
	o.Workers = max(o.Workers, 1)
	o.Alignment = o.Alignment.resolve()
	return o, nil
}

// Box is a rectangle in pixels of the original image.
type Box struct{ X, Y, W, H float64 }

// Point is a position in pixels of the original image.
type Point struct{ X, Y float64 }

// Landmarks are the 68 points of the iBUG 300-W scheme: jaw 0–16, eyebrows 17–26, nose 27–35,
// left eye 36–41, right eye 42–47, mouth 48–67.
type Landmarks [68]Point

// LeftEye, RightEye and Mouth return the points of those parts.
func (l *Landmarks) LeftEye() []Point  { return l[36:42] }
func (l *Landmarks) RightEye() []Point { return l[42:48] }
func (l *Landmarks) Mouth() []Point    { return l[48:68] }

// Detection is a face found by a detector.
type Detection struct {
	Box   Box
	Score float64
}

// Descriptor is the recognition net's 128-d face descriptor (not normalised).
type Descriptor [128]float32

// Distance is the Euclidean distance between two descriptors.
func Distance(a, b Descriptor) float32 {
	var s float32
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return float32(math.Sqrt(float64(s)))
}

// Primary returns the face that stands for a photo wherever one face per photo is wanted —
// `facecluster compare`, POST /api/v1/verify, enrolment — so that they all answer alike for the
// same photos: the largest face by box area, the higher detector score on a tie (then the
// first). The largest, not the most confident: the subject of a portrait or of a crop is the
// face that fills it, while the detector's score follows pose and light and may rank a small
// face in the background above it. ok is false when faces is empty.
func Primary(faces []Face) (f Face, ok bool) {
	if len(faces) == 0 {
		return Face{}, false
	}
	best := 0
	for i := 1; i < len(faces); i++ {
		a, b := faces[i].Box.W*faces[i].Box.H, faces[best].Box.W*faces[best].Box.H
		if a > b || (a == b && faces[i].Score > faces[best].Score) {
			best = i
		}
	}
	return faces[best], true
}

// Face is everything Analyze finds about one face.
type Face struct {
	Box       Box     // the detection box (the whole image for WholeImage)
	Score     float64 // detector confidence; 0 for WholeImage faces, which were not detected
	Landmarks Landmarks
	// AlignedBox is the reference's "aligned rect": the landmarks' bounding box grown by 20 %.
	AlignedBox Box
	// CropBox is the region the descriptor was computed on: for AlignFaceAPI the square of the
	// reference's crop from the eye and mouth centres, clipped to the image; for AlignDlib the
	// axis-aligned box around the (rotated) chip.
	CropBox    Box
	Descriptor Descriptor
	Alignment  Alignment // how the face was cut out for Descriptor (never AlignDefault from Analyze)
	Whole      bool      // the whole image was taken as the face (Options.WholeImage, DescribeWhole)
}
