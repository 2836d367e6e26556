package face

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/facecluster/facecluster/engine/face/internal/imgtensor"
	"github.com/facecluster/facecluster/engine/face/internal/nets"
	"github.com/facecluster/facecluster/engine/face/internal/weights"
	"github.com/facecluster/facecluster/engine/face/models"
)

// Nets selects networks to load (a bit set); the zero value means AllNets.
type Nets uint

const (
	NetSSD Nets = 1 << iota
	NetTiny
	NetLandmarks
	NetTinyLandmarks
	NetRecognition
	AllNets = NetSSD | NetTiny | NetLandmarks | NetTinyLandmarks | NetRecognition
)

// LoadOptions configure Load.
type LoadOptions struct {
	// ModelsDir holds the face-api.js weights; "" finds them (see models.Dir:
	// $FACECLUSTER_MODELS_DIR, ./models/node_modules/@vladmandic/face-api/model, …).
	ModelsDir string
	Nets      Nets         // networks to load; 0 = all
	Logger    *slog.Logger // nil = slog.Default()
}

// Engine runs the face networks. It is immutable after Load and safe for concurrent use.
type Engine struct {
	ssd           *nets.SSD
	tiny          *nets.Tiny
	landmarks     *nets.Landmark68
	tinyLandmarks *nets.Landmark68
	recognition   *nets.Recognition
	modelsDir     string
}

// errEmptyCrop: the landmarks give no pixels to describe; Analyze drops such a face.
var errEmptyCrop = errors.New("face: the landmarks give an empty crop")

// errBoxOutside: a box given for landmarks has no pixels inside the image.
var errBoxOutside = errors.New("face: the box lies outside the image")

// ErrNotLoaded is returned when a call needs a network that LoadOptions.Nets left out.
var ErrNotLoaded = errors.New("face: network not loaded")

// Load finds the models directory, verifies the SHA-256 of every weights file and builds the
// selected networks.
func Load(opts LoadOptions) (*Engine, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	want := opts.Nets
	if want == 0 {
		want = AllNets
	}
	dir, err := models.Dir(opts.ModelsDir)
	if err != nil {
		return nil, err
	}
	e := &Engine{modelsDir: dir}
	start := time.Now()
	steps := []struct {
		net   Nets
		model models.Model
		build func(*weights.Set) error
	}{
		{NetSSD, models.SSDMobileNetV1, func(w *weights.Set) (err error) { e.ssd, err = nets.NewSSD(w); return }},
		{NetTiny, models.TinyFaceDetector, func(w *weights.Set) (err error) { e.tiny, err = nets.NewTiny(w); return }},
		{NetLandmarks, models.Landmark68, func(w *weights.Set) (err error) { e.landmarks, err = nets.NewLandmark68(w); return }},
		{NetTinyLandmarks, models.Landmark68Tiny, func(w *weights.Set) (err error) { e.tinyLandmarks, err = nets.NewLandmark68Tiny(w); return }},
		{NetRecognition, models.Recognition, func(w *weights.Set) (err error) { e.recognition, err = nets.NewRecognition(w); return }},
	}
	for _, s := range steps {
		if want&s.net == 0 {
			continue
		}
		w, err := models.Load(dir, s.model)
		if err != nil {
			return nil, err
		}
		if err := s.build(w); err != nil {
			return nil, fmt.Errorf("face: build %s from %s: %w", s.model, dir, err)
		}
	}
	log.Debug("face engine loaded", "models_dir", dir, "took", time.Since(start))
	return e, nil
}

// ModelsDir returns the directory the weights were loaded from.
func (e *Engine) ModelsDir() string { return e.modelsDir }

// input holds one input image as 8-bit RGB, which the networks read in place (crops included):
// a quarter of the memory a float copy takes (7.4 instead of 29.5 MB for a 1920×1280 photo),
// and as much less to write and read per photo.
type input struct {
	img  *nets.RGB8
	w, h int
}

// inputBuffers recycles the 8-bit copies of input images: the networks never keep them, so
// each call returns its buffer when done.
var inputBuffers sync.Pool

func toInput(img image.Image) (*input, error) {
	if img == nil {
		return nil, errors.New("face: no image")
	}
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("face: empty image (%d×%d)", b.Dx(), b.Dy())
	}
	n := b.Dx() * b.Dy() * 3
	var buf []uint8
	if p, ok := inputBuffers.Get().(*[]uint8); ok && cap(*p) >= n {
		buf = (*p)[:n]
	} else {
		buf = make([]uint8, n)
	}
	pix := imgtensor.IntoRGB8(buf, img)
	return &input{img: &nets.RGB8{W: b.Dx(), H: b.Dy(), Pix: pix}, w: b.Dx(), h: b.Dy()}, nil
}

// crop is the crop of in's pixels at (x, y), w×h (inside in), read in place.
func (in *input) crop(x, y, w, h int) nets.Crop {
	return nets.Crop{Img8: in.img, X: x, Y: y, W: w, H: h}
}

// release hands the input's buffer back for reuse; in must not be used afterwards.
func (in *input) release() {
	buf := in.img.Pix
	in.img = nil
	inputBuffers.Put(&buf)
}

// Detect finds the faces in img (boxes in its pixels), best first for SSD.
func (e *Engine) Detect(ctx context.Context, img image.Image, opts Options) ([]Detection, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	in, err := toInput(img)
	if err != nil {
		return nil, err
	}
	defer in.release()
	return e.detect(ctx, in, opts)
}

func (e *Engine) detect(ctx context.Context, in *input, opts Options) ([]Detection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("face: detect: %w", err)
	}
	var found []nets.Detection
	switch opts.Detector {
	case DetectorSSD, DetectorSSDRaw:
		if e.ssd == nil {
			return nil, fmt.Errorf("%w: SSD MobileNetV1 detector", ErrNotLoaded)
		}
		var err error
		if found, err = e.detectSSD(ctx, in, opts); err != nil {
			return nil, err
		}
	case DetectorTiny:
		if e.tiny == nil {
			return nil, fmt.Errorf("%w: TinyFaceDetector", ErrNotLoaded)
		}
		found = e.tiny.DetectCrop(in.crop(0, 0, in.w, in.h), opts.InputSize, opts.MinConfidence)
	}
	out := make([]Detection, 0, len(found))
	for _, d := range found {
		if d.W < float64(opts.MinFaceSize) || d.H < float64(opts.MinFaceSize) {
			continue
		}
		out = append(out, Detection{Box: Box{d.X, d.Y, d.W, d.H}, Score: d.Score})
	}
	return out, nil
}

// detectSSD runs SSD's passes — the reference's, the padded one (DetectorSSD) and the tiles
// (opts.TileSize) — and merges their faces, best first.
func (e *Engine) detectSSD(ctx context.Context, in *input, opts Options) ([]nets.Detection, error) {
	whole := in.crop(0, 0, in.w, in.h)
	found := e.ssd.DetectCrop(whole, opts.MinConfidence, opts.MaxResults, opts.Workers)
	var more []nets.Detection // the other passes' faces
	if opts.Detector == DetectorSSD {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("face: detect: %w", err)
		}
		padded := e.ssd.DetectPadded(whole, SSDMargin, opts.MinConfidence, opts.MaxResults, opts.Workers)
		found = confirmLarge(found, padded, in.w, in.h)
		more = append(more, padded...)
	}
	for _, t := range tiles(in.w, in.h, opts.TileSize) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("face: detect: %w", err)
		}
		for _, d := range e.ssd.DetectCrop(in.crop(t.Min.X, t.Min.Y, t.Dx(), t.Dy()), opts.MinConfidence, opts.MaxResults, opts.Workers) {
			d.X += float64(t.Min.X)
			d.Y += float64(t.Min.Y)
			if !cutByTile(d, t, in.w, in.h) {
				more = append(more, d)
			}
		}
	}
	if len(more) == 0 {
		return found, nil // nothing to merge: the reference's faces (less unconfirmed large ones)
	}
	return mergeDetections(found, more, opts.MaxResults), nil
}

// largeFace is the share of the photo's width or height above which a face of the reference's
// pass must be confirmed by the padded pass.
const largeFace = 0.6

// confirmLarge drops the faces of the reference's pass wider or taller than largeFace of the
// w×h photo that no face of the padded pass overlaps by more than mergeIoU. At that scale the
// reference's pass finds few faces (the padded pass finds them) and many false ones: 13 of its
// 18 on the face-free photos of docs/benchmarks.md were boxes over most of a photo of shoes;
// dropping them lost no face on LFW.
func confirmLarge(found, padded []nets.Detection, w, h int) []nets.Detection {
	kept := found[:0:0]
	for _, d := range found {
		large := d.W > largeFace*float64(w) || d.H > largeFace*float64(h)
		if !large || slices.ContainsFunc(padded, func(p nets.Detection) bool { return iou(d, p) > mergeIoU }) {
			kept = append(kept, d)
		}
	}
	return kept
}

// tiles cuts a w×h photo into size×size squares, each overlapping the next by a quarter of a
// tile (the last of a row or column flush with the edge); none when the photo fits in one.
func tiles(w, h, size int) []image.Rectangle {
	if size == 0 || w <= size && h <= size {
		return nil
	}
	starts := func(n int) []int {
		if n <= size {
			return []int{0}
		}
		step := size - size/4
		var s []int
		for x := 0; ; x += step {
			if x+size >= n {
				return append(s, n-size)
			}
			s = append(s, x)
		}
	}
	var out []image.Rectangle
	for _, y := range starts(h) {
		for _, x := range starts(w) {
			out = append(out, image.Rect(x, y, min(x+size, w), min(y+size, h)))
		}
	}
	return out
}

// cutByTile reports whether d touches an edge of tile t inside the photo: a face cut by the
// tile, whole in the overlapping neighbour (or in the whole-photo passes when larger than the
// overlap).
func cutByTile(d nets.Detection, t image.Rectangle, w, h int) bool {
	const near = 1.0 // pixels
	return t.Min.X > 0 && d.X < float64(t.Min.X)+near ||
		t.Min.Y > 0 && d.Y < float64(t.Min.Y)+near ||
		t.Max.X < w && d.X+d.W > float64(t.Max.X)-near ||
		t.Max.Y < h && d.Y+d.H > float64(t.Max.Y)-near
}

// mergeIoU is the overlap above which two passes' boxes are taken for the same face: SSD's own
// suppression threshold.
const mergeIoU = 0.5

// mergeDetections adds to the reference pass's faces (found, kept as they are: where the
// reference finds a face, its box is the reference's) the faces of the other passes (more)
// that overlap none kept so far, best first (greedy suppression); all best first, at most
// maxResults (≤ 0: all).
func mergeDetections(found, more []nets.Detection, maxResults int) []nets.Detection {
	byScore := func(ds []nets.Detection) {
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].Score > ds[j].Score })
	}
	byScore(more)
	kept := slices.Clone(found)
	for _, d := range more {
		if !slices.ContainsFunc(kept, func(k nets.Detection) bool { return iou(d, k) > mergeIoU }) {
			kept = append(kept, d)
		}
	}
	byScore(kept)
	if maxResults > 0 && len(kept) > maxResults {
		kept = kept[:maxResults]
	}
	return kept
}

// iou is the intersection over union of two boxes.
func iou(a, b nets.Detection) float64 {
	iw := math.Min(a.X+a.W, b.X+b.W) - math.Max(a.X, b.X)
	ih := math.Min(a.Y+a.H, b.Y+b.H) - math.Max(a.Y, b.Y)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	return inter / (a.W*a.H + b.W*b.H - inter)
}

// Landmarks places the 68 landmarks of the face in box (pixels of img) with the full landmark
// net.
func (e *Engine) Landmarks(ctx context.Context, img image.Image, box Box) (Landmarks, error) {
	in, err := toInput(img)
	if err != nil {
		return Landmarks{}, err
	}
	defer in.release()
	lm, _, err := e.landmarksOf(ctx, in, box, false)
	return lm, err
}

// landmarksOf runs the landmark net on the detection crop, as the reference does: the box is
// clipped to the image and floored, and the points (relative to that crop) are shifted by the
// unclipped box origin. It also returns the crop's size, which the descriptor crop needs.
func (e *Engine) landmarksOf(ctx context.Context, in *input, box Box, tiny bool) (Landmarks, [2]int, error) {
	net := e.landmarks
	if tiny {
		net = e.tinyLandmarks
	}
	if net == nil {
		return Landmarks{}, [2]int{}, fmt.Errorf("%w: %s", ErrNotLoaded, map[bool]string{false: "68-landmark net", true: "tiny 68-landmark net"}[tiny])
	}
	if err := ctx.Err(); err != nil {
		return Landmarks{}, [2]int{}, fmt.Errorf("face: landmarks: %w", err)
	}
	x, y, w, h := clipToImage(box, in.w, in.h)
	if w < 1 || h < 1 {
		return Landmarks{}, [2]int{}, fmt.Errorf("%w: box %+v, %d×%d image", errBoxOutside, box, in.w, in.h)
	}
	pts := net.DetectCrop(in.crop(x, y, w, h))
	var lm Landmarks
	for i, p := range pts {
		lm[i] = Point{float64(p[0]) + box.X, float64(p[1]) + box.Y}
	}
	return lm, [2]int{w, h}, nil
}

// Describe computes the descriptor of a face from its landmarks (face.Landmarks, with face.Box
// as returned by Analyze or Detect+Landmarks), cut out as face.Alignment says (AlignDefault:
// DefaultAlignment).
func (e *Engine) Describe(ctx context.Context, img image.Image, f Face) (Descriptor, error) {
	in, err := toInput(img)
	if err != nil {
		return Descriptor{}, err
	}
	defer in.release()
	if e.recognition == nil {
		return Descriptor{}, fmt.Errorf("%w: recognition net", ErrNotLoaded)
	}
	if err := ctx.Err(); err != nil {
		return Descriptor{}, fmt.Errorf("face: describe: %w", err)
	}
	cs, _, err := e.recognitionCrops(ctx, in, &f, f.Alignment.resolve(), false)
	if err != nil {
		return Descriptor{}, err
	}
	return e.describeMean(cs), nil
}

// describeOne is the descriptor of one face crop.
func (e *Engine) describeOne(c nets.Crop) Descriptor {
	var d [1][128]float32
	e.recognition.DescribeBatch([]nets.Crop{c}, d[:])
	return d[0]
}

// describeMean is the mean descriptor of a face's crops.
func (e *Engine) describeMean(cs []nets.Crop) Descriptor {
	d := make([][128]float32, len(cs))
	e.recognition.DescribeBatch(cs, d)
	return meanDescriptor(d)
}

func meanDescriptor(ds [][128]float32) Descriptor {
	if len(ds) == 1 {
		return ds[0]
	}
	var m Descriptor
	for _, d := range ds {
		for i, v := range d {
			m[i] += v
		}
	}
	for i := range m {
		m[i] /= float32(len(ds))
	}
	return m
}

// recognitionCrops returns the crops the recognition net describes for face f (its
// descriptor is the mean of theirs) and where in the image the face was cut out. f.Box is the
// detection box its landmarks were found in.
func (e *Engine) recognitionCrops(ctx context.Context, in *input, f *Face, a Alignment, tiny bool) ([]nets.Crop, Box, error) {
	switch a {
	case AlignDlib:
		c, box, err := dlibChipCrop(in, &f.Landmarks)
		return []nets.Crop{c}, box, err
	case AlignDlibSteady:
		lm, err := e.steadyLandmarks(ctx, in, f.Box, &f.Landmarks, tiny)
		if err != nil {
			return nil, Box{}, err
		}
		c, box, err := dlibChipCrop(in, &lm)
		if err != nil {
			return nil, Box{}, err
		}
		return []nets.Crop{c, mirrored(c)}, box, nil
	}
	_, _, cw, ch := clipToImage(f.Box, in.w, in.h)
	c, box, err := recognitionCrop(in, &f.Landmarks, [2]int{cw, ch})
	return []nets.Crop{c}, box, err
}

// recognitionCrop returns face-api.js's crop for a face with landmarks lm found in a
// detection crop of size crop (which bounds the crop), and where in the image it lies.
func recognitionCrop(in *input, lm *Landmarks, crop [2]int) (nets.Crop, Box, error) {
	r := descriptorCrop(lm, crop)
	x, y, w, h := clipToImage(r, in.w, in.h)
	if w < 1 || h < 1 {
		// Degenerate landmarks (all but coincident points, or far outside the image): the
		// reference would describe an empty tensor as zeros. The landmarks' own bounding box
		// is a better crop than nothing.
		x, y, w, h = clipToImage(alignedBox(lm), in.w, in.h)
		if w < 1 || h < 1 {
			return nets.Crop{}, Box{}, fmt.Errorf("%w: %+v in the %d×%d image", errEmptyCrop, r, in.w, in.h)
		}
	}
	return in.crop(x, y, w, h), Box{float64(x), float64(y), float64(w), float64(h)}, nil
}

// cropOf is the crop of in's pixels in box (whole pixels inside in), read in place.
func cropOf(in *input, box Box) nets.Crop {
	return in.crop(int(box.X), int(box.Y), int(box.W), int(box.H))
}

// DescribeWhole treats the whole image as one face crop (enrolment photos often are tight
// crops in which detectors find nothing): its landmarks, found on the whole image, and the
// descriptor of the face they place, cut out with DefaultAlignment (Analyze with
// Options.WholeImage chooses the alignment; AlignFaceAPI describes the whole image as it is).
func (e *Engine) DescribeWhole(ctx context.Context, img image.Image) (Descriptor, Landmarks, error) {
	in, err := toInput(img)
	if err != nil {
		return Descriptor{}, Landmarks{}, err
	}
	defer in.release()
	f, err := e.whole(ctx, in, Options{Alignment: DefaultAlignment})
	return f.Descriptor, f.Landmarks, err
}

func (e *Engine) whole(ctx context.Context, in *input, opts Options) (Face, error) {
	if e.recognition == nil {
		return Face{}, fmt.Errorf("%w: recognition net", ErrNotLoaded)
	}
	all := Box{0, 0, float64(in.w), float64(in.h)}
	lm, _, err := e.landmarksOf(ctx, in, all, opts.TinyLandmarks)
	if err != nil {
		return Face{}, err
	}
	if err := ctx.Err(); err != nil {
		return Face{}, fmt.Errorf("face: describe: %w", err)
	}
	f := Face{Box: all, Landmarks: lm, AlignedBox: alignedBox(&lm), CropBox: all, Whole: true, Alignment: opts.Alignment}
	cs := []nets.Crop{in.crop(0, 0, in.w, in.h)}
	if opts.Alignment != AlignFaceAPI {
		chips, box, err := e.recognitionCrops(ctx, in, &f, opts.Alignment, opts.TinyLandmarks)
		switch {
		case err == nil:
			cs, f.CropBox = chips, box
		case !errors.Is(err, errEmptyCrop):
			return Face{}, err
		}
		// errEmptyCrop: landmarks that place no face (a flat or tiny image) leave the whole
		// image as it is.
	}
	f.Descriptor = e.describeMean(cs)
	return f, nil
}

// Analyze finds every face of img with its landmarks and descriptor (or, with
// opts.WholeImage, takes the whole image as one face).
func (e *Engine) Analyze(ctx context.Context, img image.Image, opts Options) ([]Face, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	in, err := toInput(img)
	if err != nil {
		return nil, err
	}
	defer in.release()
	if opts.WholeImage {
		f, err := e.whole(ctx, in, opts)
		if err != nil {
			return nil, err
		}
		return []Face{f}, nil
	}
	dets, err := e.detect(ctx, in, opts)
	if err != nil {
		return nil, err
	}
	var kept []Detection
	for _, d := range dets {
		if _, _, w, h := clipToImage(d.Box, in.w, in.h); w >= 1 && h >= 1 {
			kept = append(kept, d) // the reference drops boxes that are empty inside the image too
		}
	}
	if len(kept) > 0 && e.recognition == nil {
		return nil, fmt.Errorf("%w: recognition net", ErrNotLoaded)
	}
	// The landmarks and the crop of every face, then the descriptors of all the faces
	// together (the recognition net reads its weights once per batch, not once per face).
	faces := make([]Face, len(kept))
	crops := make([][]nets.Crop, len(kept)) // a face's descriptor is the mean of its crops'
	errs := make([]error, len(kept))
	locateFace := func(i int) {
		d := kept[i]
		lm, _, err := e.landmarksOf(ctx, in, d.Box, opts.TinyLandmarks)
		if err != nil {
			errs[i] = err
			return
		}
		f := Face{Box: d.Box, Score: d.Score, Landmarks: lm, AlignedBox: alignedBox(&lm), Alignment: opts.Alignment}
		cs, cropBox, err := e.recognitionCrops(ctx, in, &f, opts.Alignment, opts.TinyLandmarks)
		if errors.Is(err, errEmptyCrop) {
			return // no face to describe, dropped below
		}
		if err != nil {
			errs[i] = err
			return
		}
		f.CropBox = cropBox
		faces[i], crops[i] = f, cs
	}
	parallel(len(kept), opts.Workers, locateFace)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var described []int // the faces with a crop
	var batch []nets.Crop
	var owner []int // index into described of each crop of the batch
	for i, cs := range crops {
		if len(cs) > 0 { // a face with a crop
			for _, c := range cs {
				batch = append(batch, c)
				owner = append(owner, len(described))
			}
			described = append(described, i)
		}
	}
	if len(batch) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("face: describe: %w", err)
		}
	}
	descs := make([][128]float32, len(batch))
	// With several workers the faces are cut into one batch per worker.
	parts := min(max(opts.Workers, 1), len(batch))
	parallel(parts, parts, func(p int) {
		lo, hi := p*len(batch)/parts, (p+1)*len(batch)/parts
		e.recognition.DescribeBatch(batch[lo:hi], descs[lo:hi])
	})
	out := make([]Face, len(described))
	for j, i := range described {
		out[j] = faces[i]
	}
	for lo := 0; lo < len(batch); {
		hi := lo + 1
		for hi < len(batch) && owner[hi] == owner[lo] {
			hi++
		}
		out[owner[lo]].Descriptor = meanDescriptor(descs[lo:hi])
		lo = hi
	}
	return out, nil
}

// parallel calls f(0) … f(n−1) on up to workers goroutines (the calling one when workers ≤ 1).
func parallel(n, workers int, f func(int)) {
	if workers <= 1 || n < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// clipToImage clips b to a w×h image and floors it, as the reference's clipAtImageBorders.
func clipToImage(b Box, w, h int) (x, y, cw, ch int) {
	cx, cy := math.Max(b.X, 0), math.Max(b.Y, 0)
	nw := math.Min(b.X+b.W-cx, float64(w)-cx)
	nh := math.Min(b.Y+b.H-cy, float64(h)-cy)
	return int(math.Floor(cx)), int(math.Floor(cy)), int(math.Floor(nw)), int(math.Floor(nh))
}

func centre(pts []Point) Point {
	var c Point
	for _, p := range pts {
		c.X += p.X
		c.Y += p.Y
	}
	return Point{c.X / float64(len(pts)), c.Y / float64(len(pts))}
}

// descriptorCrop is the reference's dlib-style crop from the landmarks: a square of
// eye-to-mouth distance / 0.45 around the centres of the eyes and the mouth. crop is the size of
// the detection crop the landmarks came from, which bounds the square as in the reference.
func descriptorCrop(lm *Landmarks, crop [2]int) Box {
	le, re, mo := centre(lm.LeftEye()), centre(lm.RightEye()), centre(lm.Mouth())
	dist := (math.Hypot(mo.X-le.X, mo.Y-le.Y) + math.Hypot(mo.X-re.X, mo.Y-re.Y)) / 2
	size := math.Floor(dist / 0.45)
	ref := Point{(le.X + re.X + mo.X) / 3, (le.Y + re.Y + mo.Y) / 3}
	x := math.Floor(math.Max(0, ref.X-0.5*size))
	y := math.Floor(math.Max(0, ref.Y-0.43*size))
	return Box{x, y, math.Min(size, float64(crop[0])+x), math.Min(size, float64(crop[1])+y)}
}

// alignedBox is the reference's alignedRect: the landmarks' bounding box padded by 20 %.
func alignedBox(lm *Landmarks) Box {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), 0.0, 0.0
	for _, p := range lm {
		minX, minY = math.Min(minX, p.X), math.Min(minY, p.Y)
		maxX, maxY = math.Max(maxX, p.X), math.Max(maxY, p.Y)
	}
	w, h := maxX-minX, maxY-minY
	return Box{minX - w*0.1, minY - h*0.1, w * 1.2, h * 1.2}
}
