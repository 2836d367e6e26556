package nets

import (
	"fmt"
	"sync"

	"github.com/facecluster/facecluster/engine/face/internal/weights"
	"github.com/facecluster/facecluster/engine/internal/nn"
)

// Tiny is face-api.js's TinyFaceDetector (tiny_face_detector_model): a tiny-YOLOv2 with
// depthwise-separable convolutions over a (size/32)² grid of 5 anchors. Built once from its
// weights; immutable and safe for concurrent use.
type Tiny struct {
	conv0 *nn.Conv2D
	convs [5]tinySeparable
	conv8 *nn.Conv2D

	buffers sync.Pool // *activations, each Detect's convolutions
}

// tinySeparable is the reference's depthwiseSeparableConv: a 1-pixel zero pad, 3×3 depthwise
// (VALID, so SAME in effect), 1×1 pointwise, bias, leaky ReLU.
type tinySeparable struct {
	depthwise *nn.DepthwiseConv2D
	pointwise *nn.Conv2D
}

// Tiny input sizes: the reference needs a multiple of 32; 128..608 is the range it is used with
// and the range the parity tests cover.
const (
	TinyMinInputSize     = 128
	TinyMaxInputSize     = 608
	TinyDefaultInputSize = 416
)

// CheckTinyInputSize reports whether size is a TinyFaceDetector input size (a multiple of 32 in
// 128..608), with an error that says which sizes are allowed.
func CheckTinyInputSize(size int) error {
	if size < TinyMinInputSize || size > TinyMaxInputSize || size%32 != 0 {
		return fmt.Errorf("tiny face detector input size %d: want a multiple of 32 from %d to %d (default %d)",
			size, TinyMinInputSize, TinyMaxInputSize, TinyDefaultInputSize)
	}
	return nil
}

// NewTiny builds the detector from the tensors of tiny_face_detector_model-weights_manifest.json.
func NewTiny(w *weights.Set) (*Tiny, error) {
	r := w.Reader()
	t := &Tiny{}
	if f, b := r.Get("conv0/filters", 3, 3, 3, 16), r.Get("conv0/bias", 16); r.Err() == nil {
		t.conv0 = nn.NewConv2D(f, 3, 3, 3, 16, 1, nn.Padding{}, nil, b, nn.ActLeaky)
	}
	in := 16
	for i := range t.convs {
		out := in * 2
		name := fmt.Sprintf("conv%d/", i+1)
		dw := r.Get(name+"depthwise_filter", 3, 3, in, 1)
		pw := r.Get(name+"pointwise_filter", 1, 1, in, out)
		bias := r.Get(name+"bias", out)
		if r.Err() != nil {
			break
		}
		t.convs[i] = tinySeparable{
			depthwise: nn.NewDepthwiseConv2D(dw, 3, 3, in, 1, nn.Padding{Top: 1, Bottom: 1, Left: 1, Right: 1}, nil, nil, nn.ActNone),
			pointwise: nn.NewConv2D(pw, 1, 1, in, out, 1, nn.Padding{}, nil, bias, nn.ActLeaky),
		}
		in = out
	}
	const outputs = len(tinyAnchors) * tinyBoxEncoding
	if f, b := r.Get("conv8/filters", 1, 1, in, outputs), r.Get("conv8/bias", outputs); r.Err() == nil {
		t.conv8 = nn.NewConv2D(f, 1, 1, in, outputs, 1, nn.Padding{}, nil, b, nn.ActNone)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("tiny face detector: %w", err)
	}
	t.buffers.New = func() any { return new(activations) }
	return t, nil
}

// Detect finds the faces in img (RGB, 0..255, H×W×3) whose score exceeds scoreThreshold, running
// the net at inputSize×inputSize, best first, with boxes in img's pixels (not clipped to the
// image, as the reference's). inputSize must pass CheckTinyInputSize; callers validate it, so
// another value is a programming error and panics.
func (t *Tiny) Detect(img *nn.Tensor, inputSize int, scoreThreshold float64) []Detection {
	if err := CheckTinyInputSize(inputSize); err != nil {
		panic(err)
	}
	if img == nil || img.H == 0 || img.W == 0 {
		return nil
	}
	return t.DetectCrop(Whole(img), inputSize, scoreThreshold)
}

// DetectCrop is Detect of a crop read in place (of a float or an 8-bit image), with boxes in
// the crop's pixels.
func (t *Tiny) DetectCrop(img Crop, inputSize int, scoreThreshold float64) []Detection {
	if err := CheckTinyInputSize(inputSize); err != nil {
		panic(err)
	}
	if img.H == 0 || img.W == 0 {
		return nil
	}
	acts := t.buffers.Get().(*activations)
	defer t.buffers.Put(acts)
	// The input in the pooled buffers too: a fresh 2 MB tensor per call would be page-faulted
	// in by the resize and would make the garbage collector run (and empty the pool) sooner.
	n := inputSize * inputSize * 3
	if cap(acts.input) < n {
		acts.input = make([]float32, n)
	}
	x := &nn.Tensor{H: inputSize, W: inputSize, C: 3, Data: acts.input[:n]}
	squareInput(x, img, false, normTiny) // resized and normalizeMeanRGB'd in one pass
	run := func(l layer, src *nn.Tensor) *nn.Tensor {
		dst := acts.outputOf(l, src)
		l.ApplyTo(dst, src)
		return dst
	}
	// pool writes the max pool of src into the buffer src does not occupy.
	pool := func(src *nn.Tensor, stride int) *nn.Tensor {
		pad := nn.SamePadding(src.H, src.W, 2, 2, stride)
		h, w := pad.OutputSize(src.H, src.W, 2, 2, stride)
		dst := acts.output(h, w, src.C)
		nn.MaxPoolTo(dst, src, 2, stride, pad)
		return dst
	}
	x = run(t.conv0, x)
	for _, c := range t.convs {
		x = run(c.pointwise, run(c.depthwise, pool(x, 2)))
	}
	x = pool(x, 1)
	x = t.conv8.Apply(x)
	if grid := inputSize / 32; x.H != grid || x.W != grid || x.C != len(tinyAnchors)*tinyBoxEncoding {
		panic(fmt.Sprintf("nets: tiny face detector at %d produced a %s head, want %dx%dx%d", inputSize, x.Shape(), grid, grid, len(tinyAnchors)*tinyBoxEncoding))
	}

	longer := max(img.W, img.H)
	correctX := float64(inputSize) / reshapedSide(img.W, longer, inputSize)
	correctY := float64(inputSize) / reshapedSide(img.H, longer, inputSize)
	boxes := decodeTiny(x.Data, x.H, scoreThreshold, correctX, correctY)
	kept := tinyNonMaxSuppression(boxes, tinyIoUThreshold)
	dets := make([]Detection, len(kept))
	for i, b := range kept {
		dets[i] = Detection{
			X:     b.left * float64(img.W),
			Y:     b.top * float64(img.H),
			W:     (b.right - b.left) * float64(img.W),
			H:     (b.bottom - b.top) * float64(img.H),
			Score: b.score,
		}
	}
	return dets
}
