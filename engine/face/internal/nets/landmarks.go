package nets

import (
	"fmt"
	"sync"

	"github.com/facecluster/facecluster/engine/face/internal/weights"
	"github.com/facecluster/facecluster/engine/internal/nn"
)

// LandmarkInputSize is the side of the square the landmark nets see.
const LandmarkInputSize = 112

// Landmark68 is face-api.js's FaceLandmark68Net (4 dense blocks) or, built by NewLandmark68Tiny,
// FaceLandmark68TinyNet (3 dense blocks): a face crop in, 68 points out.
type Landmark68 struct {
	blocks  []denseBlock
	fcW     []float32 // [channels,136]
	fcB     []float32
	scratch sync.Pool // *landmarkScratch: activations reused between calls
}

// landmarkScratch holds every activation of one forward pass (the input sizes are fixed).
type landmarkScratch struct {
	input  *nn.Tensor // 112×112×3
	blocks []blockScratch
}

type blockScratch struct {
	firstDW   *nn.Tensor // depthwise half of the first (separable) conv; nil in block 0
	out1      *nn.Tensor // ReLU(first conv)
	dw, pw    *nn.Tensor // one separable conv's halves
	sum, next *nn.Tensor // running sum of the block's outputs; ReLU of it, the next conv's input
}

// denseBlock: a first stride-2 conv (plain in the first block, separable after) with ReLU, then
// separable convs each fed ReLU of the running sum of the block's outputs so far.
type denseBlock struct {
	first     *nn.Conv2D          // block 0: 3×3 stride 2 SAME + bias + ReLU; else the pointwise half
	firstDW   *nn.DepthwiseConv2D // nil in block 0
	dws       []*nn.DepthwiseConv2D
	pws       []*nn.Conv2D // pointwise + bias, no activation
	in        int          // input channels
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
		b := denseBlock{in: in, outputs: c}
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

func (n *Landmark68) newScratch() *landmarkScratch {
	sc := &landmarkScratch{input: nn.NewTensor(LandmarkInputSize, LandmarkInputSize, 3)}
	for _, b := range n.blocks {
		s, c := b.sizeAfter, b.outputs
		bs := blockScratch{
			out1: nn.NewTensor(s, s, c), dw: nn.NewTensor(s, s, c), pw: nn.NewTensor(s, s, c),
			sum: nn.NewTensor(s, s, c), next: nn.NewTensor(s, s, c),
		}
		if b.firstDW != nil {
			bs.firstDW = nn.NewTensor(s, s, b.in)
		}
		sc.blocks = append(sc.blocks, bs)
	}
	return sc
}

// apply runs the block on x and returns its output, which lives in sc.sum.
func (b *denseBlock) apply(x *nn.Tensor, sc *blockScratch) *nn.Tensor {
	if b.firstDW == nil {
		b.first.ApplyTo(sc.out1, x)
	} else {
		b.firstDW.ApplyTo(sc.firstDW, x)
		b.first.ApplyTo(sc.out1, sc.firstDW)
	}
	// sum holds out1 + out2 + … (pre-activation outputs; out1 itself is post-ReLU). Each
	// separable conv reads ReLU(sum so far); the block's output is ReLU of the full sum.
	copy(sc.sum.Data, sc.out1.Data)
	in := sc.out1
	for i := range b.dws {
		b.dws[i].ApplyTo(sc.dw, in)
		b.pws[i].ApplyTo(sc.pw, sc.dw)
		if i == len(b.dws)-1 {
			nn.AddReLU(sc.sum, sc.sum, sc.pw)
			return sc.sum
		}
		nn.AddReLU(sc.next, sc.sum, sc.pw) // the next conv's input: ReLU(sum + this output)
		nn.Add(sc.sum, sc.sum, sc.pw)
		in = sc.next
	}
	return sc.out1
}

// Detect returns the 68 landmarks of a face crop given as RGB values 0..255, in pixels of that
// crop (x, y).
func (n *Landmark68) Detect(face *nn.Tensor) [68][2]float32 { return n.DetectCrop(Whole(face)) }

// DetectCrop is Detect of a crop read in place.
func (n *Landmark68) DetectCrop(face Crop) [68][2]float32 {
	sc, _ := n.scratch.Get().(*landmarkScratch)
	if sc == nil {
		sc = n.newScratch()
	}
	defer n.scratch.Put(sc)
	x := sc.input
	faceInputTo(x, face)
	for i := range n.blocks {
		x = n.blocks[i].apply(x, &sc.blocks[i])
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
