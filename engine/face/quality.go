package face

import (
	"image"
	"math"

	"golang.org/x/image/draw"
)

// Quality is what a face looks like to the recognition net, measured on the image and the
// face's landmarks — no net is run. Enrolment (package enroll) decides from it whether a
// photo is good enough to stand for a person; Quality only measures.
type Quality struct {
	// Size is the shorter side of the face's box in image pixels (the whole image for a
	// whole-image face): how much detail the recognition net's 150×150 input is made from.
	Size float64
	// Sharpness is the standard deviation of the Laplacian of the inner face (eyebrows to chin
	// line: landmarks 17–67) resampled to QualitySample×QualitySample grey pixels, divided by
	// the standard deviation of its grey levels. Resampling makes it independent of the face's
	// size in pixels, dividing makes it independent of contrast and exposure: a blurred face
	// has lost its fine detail relative to its coarse shading, however large or bright it is.
	Sharpness float64
	// Yaw is how far the face is turned left or right, in degrees (0 frontal, ±90 profile;
	// positive when the nose points to the image's left), estimated from where the nose tip
	// sits between the two sides of the jaw, measured along the line through the eyes so that
	// a tilted head does not count as turned.
	Yaw float64
}

// QualitySample is the side of the grey square Sharpness is measured on: about the size of the
// inner face in the recognition net's 150×150 input.
const QualitySample = 64

// MeasureQuality measures f, a face found in img (by Analyze, or given with its box and
// landmarks).
func MeasureQuality(img image.Image, f Face) Quality {
	return Quality{
		Size:      math.Min(f.Box.W, f.Box.H),
		Sharpness: sharpness(img, &f.Landmarks),
		Yaw:       yaw(&f.Landmarks),
	}
}

func sharpness(img image.Image, lm *Landmarks) float64 {
	inner := lm[17:68]
	x0, y0, x1, y1 := inner[0].X, inner[0].Y, inner[0].X, inner[0].Y
	for _, p := range inner[1:] {
		x0, y0, x1, y1 = math.Min(x0, p.X), math.Min(y0, p.Y), math.Max(x1, p.X), math.Max(y1, p.Y)
	}
	b := img.Bounds()
	r := image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1))).Add(b.Min).Intersect(b)
	if r.Dx() < 3 || r.Dy() < 3 {
		return 0
	}
	// Catmull-Rom widens its kernel when it shrinks, so a large face is averaged down rather
	// than aliased into false detail.
	g := image.NewGray(image.Rect(0, 0, QualitySample, QualitySample))
	draw.CatmullRom.Scale(g, g.Bounds(), img, r, draw.Src, nil)
	const n = QualitySample
	var sum, sum2, lsum, lsum2 float64
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			v := float64(g.Pix[y*g.Stride+x])
			sum += v
			sum2 += v * v
			if x == 0 || y == 0 || x == n-1 || y == n-1 {
				continue
			}
			l := float64(g.Pix[(y-1)*g.Stride+x]) + float64(g.Pix[(y+1)*g.Stride+x]) +
				float64(g.Pix[y*g.Stride+x-1]) + float64(g.Pix[y*g.Stride+x+1]) - 4*v
			lsum += l
			lsum2 += l * l
		}
	}
	cnt, lcnt := float64(n*n), float64((n-2)*(n-2))
	std := math.Sqrt(math.Max(sum2/cnt-(sum/cnt)*(sum/cnt), 0))
	lstd := math.Sqrt(math.Max(lsum2/lcnt-(lsum/lcnt)*(lsum/lcnt), 0))
	if std < 1 { // a flat patch has no detail to lose
		return 0
	}
	return lstd / std
}

func yaw(lm *Landmarks) float64 {
	le, re := lm[36], lm[45] // the eyes' outer corners
	ux, uy := re.X-le.X, re.Y-le.Y
	half := math.Hypot(ux, uy) / 2
	if half == 0 {
		return 0
	}
	ux, uy = ux/(2*half), uy/(2*half)
	along := func(p Point) float64 { return p.X*ux + p.Y*uy }
	// Seen from the front, the nose tip is midway between the eyes' outer corners; as the head
	// turns by θ it moves off the middle by noseDepth·sin θ while the corners close in to
	// half·cos θ, so its offset, as a fraction of the (seen) half width, is (noseDepth/half)·tan θ.
	// noseDepth/half is about 0.75 on adult faces (the nose tip stands some 35 mm in front of
	// the eye corners, which are some 95 mm apart).
	const depthRatio = 0.75
	off := (along(lm[30]) - (along(le)+along(re))/2) / half
	return -math.Atan(off/depthRatio) * 180 / math.Pi
}
