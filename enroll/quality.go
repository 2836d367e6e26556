package enroll

import (
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/facecluster/facecluster/engine/face"
)

// QualityLimits are what an example photo must meet to be enrolled: every example stands for its
// person in every later match, so one poor photo (a blurred face, a face in profile, a
// stranger's face) makes the person both harder to recognise and easier to confuse. The
// engine measures (face.MeasureQuality); enrolment owns the policy, because the same photo
// may be fine to search in and still not good enough to define someone.
type QualityLimits struct {
	MinFaceSize  float64 // the face box's shorter side, pixels
	MinSharpness float64 // face.Quality.Sharpness
	MaxYaw       float64 // degrees either way
	// OtherFaces is how large (box side, as a fraction of the largest face's) another face must
	// be to make the photo ambiguous: smaller ones are passers-by in the background, and the
	// largest face is clearly the subject.
	OtherFaces float64
}

// DefaultQualityLimits were calibrated on LFW, the face-api.js demo photos and synthetic bad copies
// of them (docs/benchmarks.md, "Enrolment quality"): they refuse almost no LFW face and every
// heavily blurred, tiny or two-face copy.
var DefaultQualityLimits = QualityLimits{MinFaceSize: 60, MinSharpness: 0.15, MaxYaw: 50, OtherFaces: 0.5}

// RefusedError says why a photo was not enrolled, as sentences a user can act on.
type RefusedError struct {
	Problems []string // each a sentence saying what is wrong and what to do
}

func (e *RefusedError) Error() string { return strings.Join(e.Problems, "; ") }

// Checked is a photo that passed Check (or was let through with Override): the face that is
// enrolled, how it measured, and what would have refused it.
type Checked struct {
	Face     face.Face
	Quality  face.Quality
	Warnings []string // the problems Override let through
}

// Check decides whether img, in which faces were found (face.Face.Whole: the whole photo
// taken as the face because none was detected), may be enrolled: it must show one face (and
// no other of comparable size), large, sharp and frontal enough for lim. A photo that fails is refused with a *RefusedError naming
// every problem; with override, it is accepted anyway (its largest face, face.Primary) and the
// problems are returned as Warnings. No face at all is always refused.
func Check(img image.Image, faces []face.Face, lim QualityLimits, override bool) (Checked, error) {
	best, ok := face.Primary(faces)
	if !ok {
		return Checked{}, &RefusedError{Problems: []string{"no face found: use a photo in which the person's face is clearly visible"}}
	}
	q := face.MeasureQuality(img, best)
	var problems []string
	side := func(f face.Face) float64 { return math.Sqrt(f.Box.W * f.Box.H) }
	others := 0
	for _, f := range faces {
		if side(f) >= lim.OtherFaces*side(best) {
			others++
		}
	}
	if others > 1 {
		problems = append(problems, fmt.Sprintf("%d faces found: crop the photo to the person's face alone", others))
	}
	if q.Size < lim.MinFaceSize {
		problems = append(problems, fmt.Sprintf("the face is too small (%.0f pixels across, at least %.0f needed): use a larger or closer photo", q.Size, lim.MinFaceSize))
	}
	if q.Sharpness < lim.MinSharpness {
		problems = append(problems, fmt.Sprintf("the face is too blurred (sharpness %.2f, at least %.2f needed): use a sharper photo", q.Sharpness, lim.MinSharpness))
	}
	if math.Abs(q.Yaw) > lim.MaxYaw {
		problems = append(problems, fmt.Sprintf("the face is turned too far to the side (about %.0f°, at most %.0f°): use a photo looking towards the camera", math.Abs(q.Yaw), lim.MaxYaw))
	}
	if len(problems) > 0 && best.Whole {
		problems = append([]string{"no face found, so the whole photo was taken as the face"}, problems...)
	}
	c := Checked{Face: best, Quality: q}
	if len(problems) > 0 {
		if !override {
			return c, &RefusedError{Problems: problems}
		}
		c.Warnings = problems
	}
	return c, nil
}

// WholeImageNotice is what a user is told when no face was detected in an example photo and the
// whole photo was described as the face: right for a tight crop of a face, wrong otherwise.
const WholeImageNotice = "no face found, the whole photo was used as the face: if it is not a close crop of the person's face, remove this example and use a clearer photo"
