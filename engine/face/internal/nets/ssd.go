package nets

import (
	"fmt"
	"math"
	"sync"

	"github.com/facecluster/facecluster/engine/face/internal/weights"
	"github.com/facecluster/facecluster/engine/internal/nn"
)

// SSD is face-api.js's default face detector, SSD MobileNetV1 (ssd_mobilenetv1_model): a
// MobileNetV1 backbone at 512×512, four extra feature maps and six box/class heads over 5118
// anchors. Built once from its weights; immutable and safe for concurrent use.
type SSD struct {
	backbone []rowLayer    // conv0, then the 13 pairs' depthwise and pointwise convolutions
	extras   [8]*nn.Conv2D // 16×16 down to 1×1: too small to be worth splitting
	heads    [6]ssdHead
	anchors  []float32 // 5118 × (ymin, xmin, ymax, xmax), normalised

	buffers sync.Pool // *activations, each Detect's backbone and extra layers
}

// ssdHead is one box predictor: the box-encoding and class convolutions of the reference run as
// one 1×1 convolution whose first 4·anchors outputs are box encodings and the rest class logits.
type ssdHead struct {
	conv    *nn.Conv2D
	anchors int // per map position
	offset  int // index of this map's first anchor among all 5118
}

const (
	ssdInputSize    = 512
	ssdIoUThreshold = 0.5
	ssdAnchors      = 5118
	ssdBNEpsilon    = 0.0010000000474974513 // float32(0.001), as the reference's batch norm
	ssdConv11       = 2 * 11                // backbone index (conv0, then 2 per pair) of pair 11's pointwise conv
)

// ssdMaps describes the six feature maps the heads read: side, channels and anchors per position.
var ssdMaps = [6]struct{ side, channels, anchors int }{
	{32, 512, 3}, {16, 1024, 6}, {8, 512, 6}, {4, 256, 6}, {2, 256, 6}, {1, 128, 6},
}

// NewSSD builds the detector from the tensors of ssd_mobilenetv1_model-weights_manifest.json.
func NewSSD(w *weights.Set) (*SSD, error) {
	r := w.Reader()
	s := &SSD{}
	side := ssdInputSize

	// Backbone: conv0 (3×3 stride 2) and 13 depthwise-separable pairs.
	s.backbone = append(s.backbone, ssdConv(r, "MobilenetV1/Conv2d_0_pointwise", 3, 3, 32, 2, side))
	side = outSide(side, 2)
	in := 32
	pairOut := [13]int{64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024}
	for i := range 13 {
		stride := 1
		switch i + 1 {
		case 2, 4, 6, 12:
			stride = 2
		}
		s.backbone = append(s.backbone, ssdDepthwise(r, fmt.Sprintf("MobilenetV1/Conv2d_%d_depthwise", i+1), in, stride, side))
		side = outSide(side, stride)
		s.backbone = append(s.backbone, ssdConv(r, fmt.Sprintf("MobilenetV1/Conv2d_%d_pointwise", i+1), 1, in, pairOut[i], 1, side))
		in = pairOut[i]
	}

	// Extra feature maps: alternately 1×1 to fewer channels and 3×3 stride 2.
	extraOut := [8]int{256, 512, 128, 256, 128, 256, 64, 128}
	for i := range s.extras {
		k, stride := 1, 1
		if i%2 == 1 {
			k, stride = 3, 2
		}
		name := fmt.Sprintf("Prediction/Conv2d_%d_pointwise", i)
		filter := r.Get(name+"/weights", k, k, in, extraOut[i])
		offset := r.Get(name+"/convolution_bn_offset", extraOut[i])
		if r.Err() == nil {
			s.extras[i] = nn.NewConv2D(filter, k, k, in, extraOut[i], stride, nn.SamePadding(side, side, k, k, stride), nil, offset, nn.ActReLU6)
		}
		side = outSide(side, stride)
		in = extraOut[i]
	}

	offset := 0
	for i, m := range ssdMaps {
		s.heads[i] = ssdHeadFrom(r, fmt.Sprintf("Prediction/BoxPredictor_%d", i), m.channels, m.anchors)
		s.heads[i].offset = offset
		offset += m.side * m.side * m.anchors
	}
	s.anchors = r.Get("Output/extra_dim", 1, ssdAnchors, 4)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("ssd mobilenetv1: %w", err)
	}
	if offset != ssdAnchors {
		return nil, fmt.Errorf("ssd mobilenetv1: heads cover %d anchors, want %d", offset, ssdAnchors)
	}
	s.buffers.New = func() any { return new(activations) }
	return s, nil
}

// outSide is the output side of a TensorFlow SAME layer.
func outSide(side, stride int) int { return (side + stride - 1) / stride }

// ssdConv reads a backbone convolution with its folded batch-norm offset, followed by ReLU6.
func ssdConv(r *weights.Reader, name string, k, in, out, stride, side int) rowLayer {
	filter := r.Get(name+"/weights", k, k, in, out)
	offset := r.Get(name+"/convolution_bn_offset", out)
	if r.Err() != nil {
		return rowLayer{}
	}
	return newRowLayer(k, stride, nn.SamePadding(side, side, k, k, stride), func(p nn.Padding) layer {
		return nn.NewConv2D(filter, k, k, in, out, stride, p, nil, offset, nn.ActReLU6)
	})
}

// ssdDepthwise reads a 3×3 depthwise convolution and folds the batch norm that follows it into
// its filter and a bias: (x − mean)·γ/√(var + ε) + β = x·s + (β − mean·s), s = γ/√(var + ε).
func ssdDepthwise(r *weights.Reader, name string, channels, stride, side int) rowLayer {
	filter := r.Get(name+"/depthwise_weights", 3, 3, channels, 1)
	gamma := r.Get(name+"/BatchNorm/gamma", channels)
	beta := r.Get(name+"/BatchNorm/beta", channels)
	mean := r.Get(name+"/BatchNorm/moving_mean", channels)
	variance := r.Get(name+"/BatchNorm/moving_variance", channels)
	if r.Err() != nil {
		return rowLayer{}
	}
	folded := make([]float32, len(filter)) // a copy: the weight set stays untouched
	bias := make([]float32, channels)
	for c := range channels {
		scale := float64(gamma[c]) / math.Sqrt(float64(variance[c])+ssdBNEpsilon)
		bias[c] = float32(float64(beta[c]) - float64(mean[c])*scale)
		for tap := range 9 {
			folded[tap*channels+c] = float32(float64(filter[tap*channels+c]) * scale)
		}
	}
	return newRowLayer(3, stride, nn.SamePadding(side, side, 3, 3, stride), func(p nn.Padding) layer {
		return nn.NewDepthwiseConv2D(folded, 3, 3, channels, stride, p, nil, bias, nn.ActReLU6)
	})
}

// ssdHeadFrom merges a box predictor's two 1×1 convolutions (box encodings, class logits) into one.
func ssdHeadFrom(r *weights.Reader, name string, in, anchors int) ssdHead {
	nb, nc := anchors*4, anchors*3
	boxW := r.Get(name+"/BoxEncodingPredictor/weights", 1, 1, in, nb)
	boxB := r.Get(name+"/BoxEncodingPredictor/biases", nb)
	clsW := r.Get(name+"/ClassPredictor/weights", 1, 1, in, nc)
	clsB := r.Get(name+"/ClassPredictor/biases", nc)
	if r.Err() != nil {
		return ssdHead{}
	}
	out := nb + nc
	filter := make([]float32, in*out)
	for i := range in {
		copy(filter[i*out:], boxW[i*nb:(i+1)*nb])
		copy(filter[i*out+nb:], clsW[i*nc:(i+1)*nc])
	}
	bias := append(append(make([]float32, 0, out), boxB...), clsB...)
	return ssdHead{
		conv:    nn.NewConv2D(filter, 1, 1, in, out, 1, nn.Padding{}, nil, bias, nn.ActNone),
		anchors: anchors,
	}
}

// Detect finds the faces in img (RGB, 0..255, H×W×3) scoring above minConfidence, at most
// maxResults of them (≤ 0: no cap), best first, with boxes in img's pixels. It runs on the
// calling goroutine.
func (s *SSD) Detect(img *nn.Tensor, minConfidence float64, maxResults int) []Detection {
	return s.DetectParallel(img, minConfidence, maxResults, 1)
}

// DetectParallel is Detect with each backbone layer split into up to workers bands of rows
// computed concurrently: lower latency for a single image on several cores, the same results.
// Where images are already processed one per core it only adds synchronisation; use Detect.
func (s *SSD) DetectParallel(img *nn.Tensor, minConfidence float64, maxResults, workers int) []Detection {
	if img == nil || img.H == 0 || img.W == 0 {
		return nil
	}
	return s.DetectCrop(Whole(img), minConfidence, maxResults, workers)
}

// DetectCrop is DetectParallel of a crop read in place (of a float or an 8-bit image), with
// boxes in the crop's pixels.
func (s *SSD) DetectCrop(img Crop, minConfidence float64, maxResults, workers int) []Detection {
	if img.H == 0 || img.W == 0 {
		return nil
	}
	kept := s.detect(img, squareCanvas(img.W, img.H, false), minConfidence, maxResults, workers)
	dets := make([]Detection, len(kept))
	for i, c := range kept {
		dets[i] = ssdToImage(c, img.W, img.H, ssdInputSize)
	}
	return dets
}

// DetectPadded is DetectCrop with the crop centred on a mid-grey square margin·(long side)
// wider on each side (margin ≥ 0) instead of the reference's black bottom/right padding: faces
// that fill most of the photo, which SSD misses at the reference's scale, shrink to the scales
// it finds. Boxes are clipped to the crop.
func (s *SSD) DetectPadded(img Crop, margin, minConfidence float64, maxResults, workers int) []Detection {
	if img.H == 0 || img.W == 0 {
		return nil
	}
	cv := paddedCanvas(img.W, img.H, margin)
	kept := s.detect(img, cv, minConfidence, maxResults, workers)
	dets := make([]Detection, 0, len(kept))
	for _, c := range kept {
		if d, ok := canvasToCrop(c, cv, img.W, img.H); ok {
			dets = append(dets, d)
		}
	}
	return dets
}

// canvasToCrop maps a box in normalised coordinates of cv to pixels of the w×h crop on it,
// clipped to the crop; false when nothing of it lies inside.
func canvasToCrop(c ssdCandidate, cv canvas, w, h int) (Detection, bool) {
	side := float64(cv.side)
	ymin, ymax := minmax(c.ymin, c.ymax)
	xmin, xmax := minmax(c.xmin, c.xmax)
	left := math.Max(0, xmin*side-float64(cv.left))
	top := math.Max(0, ymin*side-float64(cv.top))
	right := math.Min(float64(w), xmax*side-float64(cv.left))
	bottom := math.Min(float64(h), ymax*side-float64(cv.top))
	if right <= left || bottom <= top {
		return Detection{}, false
	}
	return Detection{X: left, Y: top, W: right - left, H: bottom - top, Score: float64(c.score)}, true
}

// detect runs the net on img placed on cv and returns the kept candidates, best first.
func (s *SSD) detect(img Crop, cv canvas, minConfidence float64, maxResults, workers int) []ssdCandidate {
	acts := s.buffers.Get().(*activations)
	defer s.buffers.Put(acts)
	// The padded, resized and normalised input (the reference's order: divide, then subtract),
	// in a buffer of its own that the backbone's outputs do not reuse.
	if cap(acts.input) < ssdInputSize*ssdInputSize*3 {
		acts.input = make([]float32, ssdInputSize*ssdInputSize*3)
	}
	x := &nn.Tensor{H: ssdInputSize, W: ssdInputSize, C: 3, Data: acts.input[:ssdInputSize*ssdInputSize*3]}
	squareInputOn(x, img, cv, normSSD)

	// Each head reads its feature map as soon as it is computed, before the buffer is reused.
	var cands []ssdCandidate
	for i := range s.backbone {
		l := &s.backbone[i]
		dst := acts.outputOf(l.whole, x)
		l.apply(dst, x, workers)
		x = dst
		if i == ssdConv11 {
			cands = s.heads[0].candidates(x, s.anchors, minConfidence, cands)
		}
	}
	cands = s.heads[1].candidates(x, s.anchors, minConfidence, cands)
	for i, e := range s.extras {
		dst := acts.outputOf(e, x)
		e.ApplyTo(dst, x)
		x = dst
		if i%2 == 1 {
			cands = s.heads[2+i/2].candidates(x, s.anchors, minConfidence, cands)
		}
	}
	if maxResults <= 0 {
		maxResults = ssdAnchors
	}
	return ssdNonMaxSuppression(cands, ssdIoUThreshold, min(maxResults, ssdAnchors))
}

// candidates runs the head on its feature map and appends the anchors scoring above minScore,
// decoded. Only those are decoded: the rest cannot survive the threshold.
func (h ssdHead) candidates(feature *nn.Tensor, anchors []float32, minScore float64, cands []ssdCandidate) []ssdCandidate {
	out := h.conv.Apply(feature)
	nb := h.anchors * 4
	stride := out.C
	for p := range out.H * out.W {
		v := out.Data[p*stride : (p+1)*stride]
		for a := range h.anchors {
			score := sigmoid(v[nb+a*3+1]) // class 1 of (background, face, unused)
			if !(float64(score) > minScore) {
				continue
			}
			idx := h.offset + p*h.anchors + a
			var anchor, t [4]float32
			copy(anchor[:], anchors[idx*4:idx*4+4])
			copy(t[:], v[a*4:a*4+4])
			c := ssdCandidate{score: score}
			c.ymin, c.xmin, c.ymax, c.xmax = decodeSSDBox(anchor, t)
			cands = append(cands, c)
		}
	}
	return cands
}
