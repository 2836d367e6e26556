package nets

import (
	"fmt"

	"github.com/facecluster/facecluster/face/internal/weights"
	"github.com/facecluster/facecluster/internal/nn"
)

// LandmarkInputSize is the side of the square the landmark nets see.
const LandmarkInputSize = 112

// Landmark68 is face-api.js's FaceLandmark68Net (4 dense blocks) or, built by NewLandmark68Tiny,
// FaceLandmark68TinyNet (3 dense blocks): a face crop in, 68 points out.
type Landmark68 struct {
	blocks []denseBlock
	fcW    []float32 // [channels,136]
	fcB    []float32
}

// denseBlock: a first stride-2 conv (plain in the first block, separable after) with ReLU, then
// separable convs each fed ReLU of the running sum of the block's outputs so far.
type denseBlock struct {
	first     *nn.Conv2D          // block 0: 3×3 stride 2 SAME + bias + ReLU; else the pointwise half
	firstDW   *nn.DepthwiseConv2D // nil in block 0
	dws       []*nn.DepthwiseConv2D
	pws       []*nn.Conv2D // pointwise + bias, no activation
	outputs   int
	sizeAfter int
}

// NewLandmark68 builds the full net from face_landmark_68_model weights.
func NewLandmark68(w *weights.Set) (*Landmark68, error) {
	return newLandmarks(w, []int{32, 64, 128, 256}, 4, "landmark net")
}

// NewLandmark68Tiny builds the tiny net from face_landmark_68_tiny_model weights.
func NewLandmark68Tiny(w *weights.Set) (*Landmark68, error) {
	return newLandmarks(w, []int{32, 64, 128}, 3, "tiny landmark net")
}

func newLandmarks(w *weights.Set, channels []int, convs int, what string) (*Landmark68, error) {
	r := w.Reader()
	net := &Landmark68{}
	in, size := 3, LandmarkInputSize
	for i, c := range channels {
		p := r.Prefixed(fmt.Sprintf("dense%d", i))
		down := nn.SamePadding(size, size, 3, 3, 2)
		b := denseBlock{outputs: c}
		if i == 0 {
			b.first = nn.NewConv2D(orNil(p.Get("conv0/filters", 3, 3, in, c), 3*3*in*c), 3, 3, in, c, 2, down, nil, orNil(p.Get("conv0/bias", c), c), nn.ActReLU)
		} else {
			b.firstDW, b.first = separable(p.Prefixed("conv0"), in, c, 2, down, nn.ActReLU)
		}
		size = (size + 1) / 2
		same := nn.SamePadding(size, size, 3, 3, 1)
		for j := 1; j < convs; j++ {
			dw, pw := separable(p.Prefixed(fmt.Sprintf("conv%d", j)), c, c, 1, same, nn.ActNone)
			b.dws, b.pws = append(b.dws, dw), append(b.pws, pw)
		}
		b.sizeAfter = size
		net.blocks = append(net.blocks, b)
		in = c
	}
	net.fcW = r.Get("fc/weights", in, 136)
	net.fcB = r.Get("fc/bias", 136)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if unused := r.Unused(); len(unused) > 0 {
		return nil, fmt.Errorf("%s: weights %v are not used: wrong model file", what, unused)
	}
	return net, nil
}

// orNil returns a zero slice of n values when d is nil (a missing tensor: the Reader holds the
// error and the half-built net is discarded), so that layer constructors need no error path.
func orNil(d []float32, n int) []float32 {
	if d == nil {
		return make([]float32, n)
	}
	return d
}

// separable reads depthwise_filter, pointwise_filter and bias under r: a depthwise 3×3 conv
// followed by a pointwise conv with bias and act (tf.separableConv2d + bias).
func separable(r *weights.Reader, in, out, stride int, pad nn.Padding, act nn.Activation) (*nn.DepthwiseConv2D, *nn.Conv2D) {
	dw := orNil(r.Get("depthwise_filter", 3, 3, in, 1), 3*3*in)
	pw := orNil(r.Get("pointwise_filter", 1, 1, in, out), in*out)
	bias := orNil(r.Get("bias", out), out)
	return nn.NewDepthwiseConv2D(dw, 3, 3, in, stride, pad, nil, nil, nn.ActNone),
		nn.NewConv2D(pw, 1, 1, in, out, 1, nn.Padding{}, nil, bias, act)
}

func (b *denseBlock) apply(x *nn.Tensor) *nn.Tensor {
	var out1 *nn.Tensor
	if b.firstDW == nil {
		out1 = b.first.Apply(x)
	} else {
		out1 = b.first.Apply(b.firstDW.Apply(x))
	}
	// sum holds out1 + out2 + … (pre-activation outputs, out1 itself is post-ReLU).
	sum := &nn.Tensor{H: out1.H, W: out1.W, C: out1.C, Data: append([]float32(nil), out1.Data...)}
	in := out1
	for i := range b.dws {
		out := b.pws[i].Apply(b.dws[i].Apply(in))
		nn.Add(sum, sum, out)
		if i == len(b.dws)-1 {
			nn.ReLU(sum)
			return sum
		}
		in = out // reuse the buffer: the next input is ReLU(sum)
		copy(in.Data, sum.Data)
		nn.ReLU(in)
	}
	return out1
}

// Detect returns the 68 landmarks of a face crop given as RGB values 0..255, in pixels of that
// crop (x, y).
func (n *Landmark68) Detect(face *nn.Tensor) [68][2]float32 {
	x := SquareInput(face, LandmarkInputSize, true)
	normalizeMeanRGB(x, recognitionMean)
	for i := range n.blocks {
		x = n.blocks[i].apply(x)
	}
	out := nn.FullyConnected(nn.GlobalMean(x), n.fcW, n.fcB)

	// Undo the centred padding the way the reference's postProcess does (float32 tensor ops):
	// relative = (out·112 − pad)/scaled side, then × crop size.
	w, h := float32(face.W), float32(face.H)
	s := float32(LandmarkInputSize) / max(w, h)
	sw, sh := w*s, h*s
	var padX, padY float32
	if sw < sh {
		padX = (sh - sw) / 2
	} else if sh < sw {
		padY = (sw - sh) / 2
	}
	var pts [68][2]float32
	for i := range pts {
		rx := (out[2*i]*LandmarkInputSize - padX) / sw
		ry := (out[2*i+1]*LandmarkInputSize - padY) / sh
		pts[i] = [2]float32{rx * w, ry * h}
	}
	return pts
}
