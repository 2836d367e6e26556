package face

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/facecluster/facecluster/engine/face/internal/nets"
	"github.com/facecluster/facecluster/engine/internal/nn"
)

// Alignment chooses how a face is cut out of the photo for the recognition net. Descriptors of
// different alignments must not be compared (see DescriptorVersion).
type Alignment int

const (
	// AlignDefault is DefaultAlignment.
	AlignDefault Alignment = iota
	// AlignFaceAPI is face-api.js's crop: an upright square of eye-to-mouth distance / 0.45
	// around the eye and mouth centres, floored to whole pixels, resized to 150×150. The
	// reference's descriptors, bit for bit; no rotation, and a one-pixel change of the crop
	// moves the descriptor by up to ~0.1.
	AlignFaceAPI
	// AlignDlib is dlib's face chip, on which the recognition net was trained: the similarity
	// transform (rotation, scale, translation) that best maps dlib's mean face onto the
	// landmarks, 150×150 with 25 % padding, sampled bilinearly at sub-pixel positions.
	AlignDlib
	// AlignDlibSteady is AlignDlib made steadier: the chip is placed by the mean of the
	// landmarks found in seven boxes around the detection (the landmark net's answer moves
	// with the box it is given, and the detector's box moves by a pixel or more when the photo
	// hardly changes), and the descriptor is the mean of those of the chip and its mirror
	// image. Six more landmark passes and one more descriptor per face.
	AlignDlibSteady
)

// DefaultAlignment is the alignment of the default pipeline: dlib's chip, steadied, the most
// accurate and the steadiest on LFW (docs/benchmarks.md, "Recognition quality": 99.30 % 10-fold
// accuracy on the pairs whose faces were found, against 98.90 % for AlignDlib and 98.83 % for
// AlignFaceAPI; descriptors move by a median 0.033 under re-encoding and shifts, against 0.061
// and 0.075).
const DefaultAlignment = AlignDlibSteady

// Descriptor versions: which recognition model and alignment a descriptor comes from.
const (
	// VersionFaceAPI is the face-api.js crop's; the string is what ModelVersion was before
	// alignments existed, so descriptors stored then keep their version.
	VersionFaceAPI    = "face-api-1.7.15/recognition"
	VersionDlib       = "face-api-1.7.15/recognition+dlib-chip-150-0.25"
	VersionDlibSteady = "face-api-1.7.15/recognition+dlib-chip-150-0.25+lm7-mirror"
	// ModelVersion is the descriptor version of the default pipeline (DefaultAlignment).
	ModelVersion = VersionDlibSteady
)

func (a Alignment) resolve() Alignment {
	if a == AlignDefault {
		return DefaultAlignment
	}
	return a
}

func (a Alignment) String() string {
	switch a.resolve() {
	case AlignFaceAPI:
		return "faceapi"
	case AlignDlib:
		return "dlib"
	case AlignDlibSteady:
		return "dlib-steady"
	}
	return fmt.Sprintf("Alignment(%d)", int(a))
}

// DescriptorVersion names the descriptors this alignment gives (AlignDefault: the default's).
func (a Alignment) DescriptorVersion() string {
	switch a.resolve() {
	case AlignFaceAPI:
		return VersionFaceAPI
	case AlignDlib:
		return VersionDlib
	case AlignDlibSteady:
		return VersionDlibSteady
	}
	return ""
}

// ParseAlignment accepts "dlib", "dlib-steady" and "faceapi" (any case; "face-api" too) and ""
// (the default).
func ParseAlignment(s string) (Alignment, error) {
	switch strings.ToLower(s) {
	case "":
		return AlignDefault, nil
	case "dlib":
		return AlignDlib, nil
	case "dlib-steady":
		return AlignDlibSteady, nil
	case "faceapi", "face-api", "face-api.js":
		return AlignFaceAPI, nil
	}
	return 0, fmt.Errorf("unknown face alignment %q (want dlib, dlib-steady or faceapi)", s)
}

// The chip dlib's recognition net was trained on: ChipSize pixels square, ChipPadding of the
// mean face's size added on every side.
const (
	ChipSize    = nets.RecognitionInputSize
	ChipPadding = 0.25
)

// meanFace is dlib's mean face shape (get_face_chip_details, dlib/image_transforms/
// interpolation.h): the average positions of the iBUG 68 points 17–67 in a unit square
// spanning the eyebrows to the chin. The chip maps the eyes, nose and outer and upper mouth
// points onto it (alignedPoints).
var meanFace = [68][2]float64{
	17: {0.000213256, 0.106454}, {0.0752622, 0.038915}, {0.18113, 0.0187482}, {0.29077, 0.0344891}, {0.393397, 0.0773906},
	22: {0.586856, 0.0773906}, {0.689483, 0.0344891}, {0.799124, 0.0187482}, {0.904991, 0.038915}, {0.98004, 0.106454},
	27: {0.490127, 0.203352}, {0.490127, 0.307009}, {0.490127, 0.409805}, {0.490127, 0.515625},
	31: {0.36688, 0.587326}, {0.426036, 0.609345}, {0.490127, 0.628106}, {0.554217, 0.609345}, {0.613373, 0.587326},
	36: {0.121737, 0.216423}, {0.187122, 0.178758}, {0.265825, 0.179852}, {0.334606, 0.231733}, {0.260918, 0.245099}, {0.182743, 0.244077},
	42: {0.645647, 0.231733}, {0.714428, 0.179852}, {0.793132, 0.178758}, {0.858516, 0.216423}, {0.79751, 0.244077}, {0.719335, 0.245099},
	48: {0.254149, 0.780233}, {0.340985, 0.745405}, {0.428858, 0.727388}, {0.490127, 0.742578}, {0.551395, 0.727388}, {0.639268, 0.745405},
	54: {0.726104, 0.780233}, {0.642159, 0.864805}, {0.556721, 0.902192}, {0.490127, 0.909281}, {0.423532, 0.902192}, {0.338094, 0.864805},
	60: {0.290379, 0.784792}, {0.428096, 0.778746}, {0.490127, 0.785343}, {0.552157, 0.778746}, {0.689874, 0.784792},
	65: {0.553364, 0.824182}, {0.490127, 0.831803}, {0.42689, 0.824182},
}

// alignedPoint reports whether landmark i takes part in the alignment: like dlib, the nose,
// eyes, outer mouth from corner to corner and the upper inner lip (27–54, 60–64); not the
// jaw, the eyebrows nor the lower lip, which move with expression.
func alignedPoint(i int) bool {
	return 27 <= i && i <= 54 || 60 <= i && i <= 64
}

// chip is where a ChipSize×ChipSize face chip lies in the image: the image position of the
// chip's top-left pixel and the image-space steps of one chip pixel to the right (ux, uy) and
// down (−uy, ux).
type chip struct {
	x0, y0 float64
	ux, uy float64
}

// scale is the image pixels per chip pixel.
func (c chip) scale() float64 { return math.Hypot(c.ux, c.uy) }

// at is the image position of chip pixel (u, v).
func (c chip) at(u, v float64) (x, y float64) {
	return c.x0 + u*c.ux - v*c.uy, c.y0 + u*c.uy + v*c.ux
}

// bounds is the axis-aligned box of the chip's corners in the image.
func (c chip) bounds() Box {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, uv := range [4][2]float64{{0, 0}, {ChipSize - 1, 0}, {0, ChipSize - 1}, {ChipSize - 1, ChipSize - 1}} {
		x, y := c.at(uv[0], uv[1])
		minX, minY, maxX, maxY = math.Min(minX, x), math.Min(minY, y), math.Max(maxX, x), math.Max(maxY, y)
	}
	return Box{minX, minY, maxX - minX, maxY - minY}
}

// dlibChip finds the chip for landmarks lm: the least-squares similarity transform from the
// padded mean face (in chip pixels) to the landmarks. As in dlib, the chip's centre is the
// transform of the chip's centre and its side ChipSize·scale, the corner pixels landing on the
// corners of that square.
func dlibChip(lm *Landmarks) (chip, error) {
	var src, dst [][2]float64
	for i, p := range lm {
		if !alignedPoint(i) {
			continue
		}
		m := meanFace[i]
		src = append(src, [2]float64{
			(ChipPadding + m[0]) / (2*ChipPadding + 1) * ChipSize,
			(ChipPadding + m[1]) / (2*ChipPadding + 1) * ChipSize,
		})
		dst = append(dst, [2]float64{p.X, p.Y})
	}
	var sc, dc [2]float64
	for i := range src {
		sc[0] += src[i][0]
		sc[1] += src[i][1]
		dc[0] += dst[i][0]
		dc[1] += dst[i][1]
	}
	n := float64(len(src))
	sc[0], sc[1], dc[0], dc[1] = sc[0]/n, sc[1]/n, dc[0]/n, dc[1]/n
	// For centred points p (template) and q (landmarks), the best s·R is [[a, −b], [b, a]]
	// with a = Σ p·q / Σ|p|², b = Σ p×q / Σ|p|².
	var a, b, norm float64
	for i := range src {
		px, py := src[i][0]-sc[0], src[i][1]-sc[1]
		qx, qy := dst[i][0]-dc[0], dst[i][1]-dc[1]
		a += px*qx + py*qy
		b += px*qy - py*qx
		norm += px*px + py*py
	}
	a, b = a/norm, b/norm
	if s := math.Hypot(a, b); !(s > 1e-6) || math.IsInf(s, 0) {
		return chip{}, fmt.Errorf("%w: landmarks give a chip of scale %g", errEmptyCrop, s)
	}
	// The chip centre (ChipSize/2, ChipSize/2) in the image.
	h := float64(ChipSize) / 2
	cx := dc[0] + a*(h-sc[0]) - b*(h-sc[1])
	cy := dc[1] + b*(h-sc[0]) + a*(h-sc[1])
	// Corner pixels 0 and ChipSize−1 on the corners of the ChipSize·s square: a chip pixel
	// step is s·ChipSize/(ChipSize−1) image pixels.
	k := float64(ChipSize) / float64(ChipSize-1)
	ux, uy := a*k, b*k
	half := float64(ChipSize-1) / 2
	return chip{x0: cx - half*ux + half*uy, y0: cy - half*uy - half*ux, ux: ux, uy: uy}, nil
}

// steadyBoxes are the boxes AlignDlibSteady finds landmarks in, relative to the detection box:
// offsets of the box's origin in box widths and heights, and the scale about its centre.
var steadyBoxes = [7][3]float64{{0, 0, 1}, {-0.05, -0.05, 1}, {0.05, -0.05, 1}, {-0.05, 0.05, 1}, {0.05, 0.05, 1}, {0, 0, 0.9}, {0, 0, 1.1}}

// steadyLandmarks is the mean of the landmarks found in the steadyBoxes around box (boxes
// wholly outside the image left out); first holds the landmarks of box itself.
func (e *Engine) steadyLandmarks(ctx context.Context, in *input, box Box, first *Landmarks, tiny bool) (Landmarks, error) {
	sum, n := *first, 1
	for _, o := range steadyBoxes[1:] {
		b := Box{
			X: box.X + o[0]*box.W + box.W*(1-o[2])/2, Y: box.Y + o[1]*box.H + box.H*(1-o[2])/2,
			W: box.W * o[2], H: box.H * o[2],
		}
		lm, _, err := e.landmarksOf(ctx, in, b, tiny)
		if errors.Is(err, errBoxOutside) {
			continue
		}
		if err != nil {
			return Landmarks{}, err
		}
		for i := range sum {
			sum[i].X += lm[i].X
			sum[i].Y += lm[i].Y
		}
		n++
	}
	for i := range sum {
		sum[i].X /= float64(n)
		sum[i].Y /= float64(n)
	}
	return sum, nil
}

// mirrored is a copy of the chip c (a ChipSize² tensor) flipped left to right.
func mirrored(c nets.Crop) nets.Crop {
	t := nn.NewTensor(ChipSize, ChipSize, 3)
	for y := range ChipSize {
		src, dst := c.Img.Data[y*ChipSize*3:][:ChipSize*3], t.Data[y*ChipSize*3:][:ChipSize*3]
		for x := range ChipSize {
			copy(dst[(ChipSize-1-x)*3:][:3], src[x*3:][:3])
		}
	}
	return nets.Crop{Img: t, W: ChipSize, H: ChipSize}
}

// dlibChipCrop cuts the chip of lm out of in: a ChipSize×ChipSize RGB tensor (0–255, not
// rounded) and the chip's box in the image. Image positions are sampled bilinearly; where a
// chip pixel covers more than 1.5 image pixels, the mean of scale×scale samples spread over
// it (rounded to whole samples) so that small chips of large faces do not alias. Outside the
// image the chip is black, as dlib's.
func dlibChipCrop(in *input, lm *Landmarks) (nets.Crop, Box, error) {
	c, err := dlibChip(lm)
	if err != nil {
		return nets.Crop{}, Box{}, err
	}
	box := c.bounds()
	if box.X > float64(in.w-1) || box.Y > float64(in.h-1) || box.X+box.W < 0 || box.Y+box.H < 0 {
		return nets.Crop{}, Box{}, fmt.Errorf("%w: the chip %+v lies outside the %d×%d image", errEmptyCrop, box, in.w, in.h)
	}
	t := nn.NewTensor(ChipSize, ChipSize, 3)
	warpChip(t.Data, in.img, c)
	return nets.Crop{Img: t, W: ChipSize, H: ChipSize}, box, nil
}

// warpChip samples chip c of img into out (ChipSize² RGB values).
func warpChip(out []float32, img *nets.RGB8, c chip) {
	k := max(1, int(math.Round(c.scale())))
	inv := 1 / float64(k)
	norm := float32(1 / float64(k*k))
	// Sub-sample (i, j) of chip pixel (u, v) is at chip position (u + du_i, v + dv_j).
	offs := make([]float64, k)
	for i := range offs {
		offs[i] = (float64(i)+0.5)*inv - 0.5
	}
	maxX, maxY := float64(img.W-1), float64(img.H-1)
	stride := img.W * 3
	pix := img.Pix
	for v := range ChipSize {
		row := out[v*ChipSize*3 : (v+1)*ChipSize*3]
		for u := range ChipSize {
			var r, g, b float32
			for _, dv := range offs {
				for _, du := range offs {
					x, y := c.at(float64(u)+du, float64(v)+dv)
					if !(x >= 0 && y >= 0 && x <= maxX && y <= maxY) {
						continue // black outside the image
					}
					x0, y0 := int(x), int(y)
					fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
					dx, dy := 3, stride
					if x0 == img.W-1 {
						dx = 0
					}
					if y0 == img.H-1 {
						dy = 0
					}
					p := pix[y0*stride+x0*3:]
					q := p[dy:]
					w00, w01, w10, w11 := (1-fx)*(1-fy), fx*(1-fy), (1-fx)*fy, fx*fy
					r += w00*float32(p[0]) + w01*float32(p[dx]) + w10*float32(q[0]) + w11*float32(q[dx])
					g += w00*float32(p[1]) + w01*float32(p[dx+1]) + w10*float32(q[1]) + w11*float32(q[dx+1])
					b += w00*float32(p[2]) + w01*float32(p[dx+2]) + w10*float32(q[2]) + w11*float32(q[dx+2])
				}
			}
			o := row[u*3 : u*3+3 : u*3+3]
			o[0], o[1], o[2] = r*norm, g*norm, b*norm
		}
	}
}
