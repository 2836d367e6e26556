package nets

import (
	"fmt"
	"sync"

	"github.com/facecluster/facecluster/engine/face/internal/weights"
	"github.com/facecluster/facecluster/engine/internal/nn"
)

// RecognitionInputSize is the side of the square the recognition net sees.
const RecognitionInputSize = 150

// recognitionMean is the per-channel RGB mean subtracted before the recognition and landmark nets.
var recognitionMean = [3]float32{122.782, 117.001, 104.298}

// Recognition is face-api.js's FaceRecognitionNet (dlib's ResNet-34 variant): a face crop in,
// a 128-d descriptor out.
//
// Several faces (those of one photo) go through the net together, DescribeBatch: the stem and
// the first blocks run face by face (their weights are small, their activations large), the
// blocks from batchFrom on — 64 to 256 channels on 17×17 to 1×1 maps, where each face has few
// pixels per weight — take all the faces in one gemm per layer (nn.Conv2D.ApplyBatch), so their
// weights are read once per photo rather than once per face.
type Recognition struct {
	stem    *nn.Conv2D // 7×7 stride 2 VALID, conv bias and scale layer folded into the epilogue
	blocks  []residualBlock
	fc      []float32 // [256,128], no bias
	scratch sync.Pool // *recognitionScratch: activations reused between calls
}

// batchFrom is the first block that runs on the whole batch at once.
const batchFrom = 3

// maxBatch bounds the faces that go through the net together (and the batch activations kept).
const maxBatch = 8

// recognitionScratch holds the activations of one forward pass (the input size is fixed): those
// of the per-face part once, those of the batched part for up to cap faces, each layer's images
// back to back in one slice.
type recognitionScratch struct {
	input, stem, pool *nn.Tensor
	cap               int
	blocks            []resBlockScratch
}

// resBlockScratch holds one block's conv1 and conv2 outputs and its result (the conv2 output
// itself, or for a down block the padded sum with the shortcut), one tensor per face.
type resBlockScratch struct{ mid, out, res []*nn.Tensor }

// residualBlock is a residual (down=false) or down-sampling (down=true) ResNet block.
type residualBlock struct {
	conv1, conv2 *nn.Conv2D
	down         bool
	in, out      int // input and output channels
	size         int // output side of conv1 and conv2
	resSize      int // side of the block's result (the shortcut's, for down blocks)
}

// NewRecognition builds the net from face_recognition_model weights.
func NewRecognition(w *weights.Set) (*Recognition, error) {
	r := w.Reader()
	net := &Recognition{stem: scaledConv(r.Prefixed("conv32_down"), 7, 3, 32, 2, nn.Padding{}, nn.ActReLU)}
	spatial := 72 // after the stem; the max pool makes it 35
	spatial = (spatial-3)/2 + 1
	layers := []struct {
		name string
		in   int
		out  int
		down bool
	}{
		{"conv32_1", 32, 32, false}, {"conv32_2", 32, 32, false}, {"conv32_3", 32, 32, false},
		{"conv64_down", 32, 64, true}, {"conv64_1", 64, 64, false}, {"conv64_2", 64, 64, false}, {"conv64_3", 64, 64, false},
		{"conv128_down", 64, 128, true}, {"conv128_1", 128, 128, false}, {"conv128_2", 128, 128, false},
		{"conv256_down", 128, 256, true}, {"conv256_1", 256, 256, false}, {"conv256_2", 256, 256, false},
		{"conv256_down_out", 256, 256, true},
	}
	for _, l := range layers {
		p := r.Prefixed(l.name)
		b := residualBlock{down: l.down, in: l.in, out: l.out}
		if l.down {
			b.conv1 = scaledConv(p.Prefixed("conv1"), 3, l.in, l.out, 2, nn.Padding{}, nn.ActReLU)
			// The shortcut's 2×2 pool keeps ⌊side/2⌋, the convolution ⌊(side−3)/2⌋+1: one
			// less for even sides, made up by a zero row and column (spatial tracks the
			// padded side).
			b.size = (spatial-3)/2 + 1
			spatial /= 2
		} else {
			b.size = spatial
			b.conv1 = scaledConv(p.Prefixed("conv1"), 3, l.in, l.out, 1, nn.SamePadding(spatial, spatial, 3, 3, 1), nn.ActReLU)
		}
		b.resSize = spatial
		if b.size == 1 {
			// A 3×3 SAME convolution of a 1×1 map sees only its centre tap: a 1×1 convolution
			// with a ninth of the weights (the other taps multiply the padding's zeros).
			b.conv2 = centreConv(p.Prefixed("conv2"), l.out, l.out, nn.ActNone)
		} else {
			b.conv2 = scaledConv(p.Prefixed("conv2"), 3, l.out, l.out, 1, nn.SamePadding(b.size, b.size, 3, 3, 1), nn.ActNone)
		}
		net.blocks = append(net.blocks, b)
	}
	net.fc = r.Get("fc", 256, 128)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("recognition net: %w", err)
	}
	if unused := r.Unused(); len(unused) > 0 {
		return nil, fmt.Errorf("recognition net: weights %v are not used: not a face_recognition_model", unused)
	}
	return net, nil
}

// scaledConv reads conv/{filters,bias} and scale/{weights,biases} under r and folds
// (conv + bias)·w + b into the convolution's epilogue as conv·w + (bias·w + b).
func scaledConv(r *weights.Reader, k, in, out, stride int, pad nn.Padding, act nn.Activation) *nn.Conv2D {
	filters, scale, folded := scaledConvWeights(r, k, in, out)
	if filters == nil {
		return nil
	}
	return nn.NewConv2D(filters, k, k, in, out, stride, pad, scale, folded, act)
}

// centreConv is scaledConv of a 3×3 filter for a 1×1 input with SAME padding: the 1×1
// convolution by the filter's centre.
func centreConv(r *weights.Reader, in, out int, act nn.Activation) *nn.Conv2D {
	filters, scale, folded := scaledConvWeights(r, 3, in, out)
	if filters == nil {
		return nil
	}
	centre := filters[4*in*out : 5*in*out] // HWIO: tap (1, 1)
	return nn.NewConv2D(centre, 1, 1, in, out, 1, nn.Padding{}, scale, folded, act)
}

func scaledConvWeights(r *weights.Reader, k, in, out int) (filters, scale, folded []float32) {
	filters = r.Get("conv/filters", k, k, in, out)
	bias := r.Get("conv/bias", out)
	scale = r.Get("scale/weights", out)
	shift := r.Get("scale/biases", out)
	if r.Err() != nil {
		return nil, nil, nil
	}
	folded = make([]float32, out)
	for i := range folded {
		folded[i] = bias[i]*scale[i] + shift[i]
	}
	return filters, scale, folded
}

// Describe returns the descriptor of a face crop given as RGB values 0..255 (any size; it is
// centred on a square and resized to 150×150 as in the reference). The descriptor is not
// normalised, as the reference's is not.
func (n *Recognition) Describe(face *nn.Tensor) [128]float32 {
	var d [1][128]float32
	n.DescribeBatch([]Crop{Whole(face)}, d[:])
	return d[0]
}

// DescribeBatch writes the descriptor of every face crop (read in place) into out
// (len(out) ≥ len(faces)), the faces going through the net together (see Recognition). Each
// descriptor is the one Describe gives for that face alone, bit for bit.
func (n *Recognition) DescribeBatch(faces []Crop, out [][128]float32) {
	if len(out) < len(faces) {
		panic(fmt.Sprintf("nets: DescribeBatch: room for %d descriptors, %d faces", len(out), len(faces)))
	}
	for len(faces) > maxBatch {
		n.DescribeBatch(faces[:maxBatch], out)
		faces, out = faces[maxBatch:], out[maxBatch:]
	}
	if len(faces) == 0 {
		return
	}
	sc, _ := n.scratch.Get().(*recognitionScratch)
	if sc == nil {
		sc = n.newScratch(len(faces))
	}
	defer n.scratch.Put(sc)
	sc.reserve(n, len(faces))
	for i, face := range faces {
		x := sc.input
		faceInputTo(x, face)
		n.stem.ApplyTo(sc.stem, x)
		nn.MaxPoolTo(sc.pool, sc.stem, 3, 2, nn.Padding{})
		x = sc.pool
		for b := range batchFrom {
			bs := &sc.blocks[b]
			j := i
			if b < batchFrom-1 {
				j = 0 // the per-face blocks reuse one set of tensors, but the last one's result is kept per face
			}
			n.blocks[b].apply(x, bs.mid[0], bs.out[j], bs.res[j])
			x = bs.res[j]
		}
	}
	k := len(faces)
	xs := sc.blocks[batchFrom-1].res[:k]
	for b := batchFrom; b < len(n.blocks); b++ {
		bs := &sc.blocks[b]
		n.blocks[b].applyBatch(xs, bs.mid[:k], bs.out[:k], bs.res[:k])
		xs = bs.res[:k]
	}
	for i, x := range xs {
		out[i] = n.head(x)
	}
}

// head is the global average pool and the fully connected layer, with GlobalMean's and
// FullyConnected's arithmetic (float64 sums, then the products in input order).
func (n *Recognition) head(x *nn.Tensor) [128]float32 {
	var sum [256]float64
	C := x.C
	for off := 0; off < len(x.Data); off += C {
		for i, v := range x.Data[off : off+C] {
			sum[i] += float64(v)
		}
	}
	var d [128]float32
	px := float64(x.H * x.W)
	for p := range C {
		v := float32(sum[p] / px)
		row := n.fc[p*128 : (p+1)*128]
		for j, wv := range row {
			d[j] += v * wv
		}
	}
	return d
}

// newScratch returns scratch for batches of up to k faces (it grows as needed).
func (n *Recognition) newScratch(k int) *recognitionScratch {
	sc := &recognitionScratch{
		input:  nn.NewTensor(RecognitionInputSize, RecognitionInputSize, 3),
		stem:   nn.NewTensor(72, 72, 32),
		pool:   nn.NewTensor(35, 35, 32),
		blocks: make([]resBlockScratch, len(n.blocks)),
	}
	sc.reserve(n, k)
	return sc
}

// reserve makes room for k faces in the batched tensors.
func (sc *recognitionScratch) reserve(n *Recognition, k int) {
	if k <= sc.cap {
		return
	}
	k = max(k, min(2*sc.cap, maxBatch))
	for i, b := range n.blocks {
		faces := k
		if i < batchFrom-1 {
			faces = 1
		}
		bs := &sc.blocks[i]
		bs.mid = tensors(faces, b.size, b.out)
		if i < batchFrom {
			bs.mid = bs.mid[:1]
		}
		bs.out = tensors(faces, b.size, b.out)
		bs.res = bs.out
		if b.resSize != b.size || b.in != b.out {
			bs.res = tensors(faces, b.resSize, b.out)
		}
	}
	sc.cap = k
}

// tensors returns k side×side×c tensors whose data lie back to back in one slice.
func tensors(k, side, c int) []*nn.Tensor {
	size := side * side * c
	data := make([]float32, k*size)
	ts := make([]*nn.Tensor, k)
	for i := range ts {
		ts[i] = &nn.Tensor{H: side, W: side, C: c, Data: data[i*size : (i+1)*size]}
	}
	return ts
}

// apply runs the block on x: conv1 into mid, conv2 into out, then the shortcut added and the
// ReLU into res (which is out unless the block is a down block).
func (b *residualBlock) apply(x, mid, out, res *nn.Tensor) {
	b.conv1.ApplyTo(mid, x)
	b.conv2.ApplyTo(out, mid)
	b.addShortcut(x, out, res)
}

// applyBatch is apply for a batch of faces, each layer over all of them at once.
func (b *residualBlock) applyBatch(xs, mid, out, res []*nn.Tensor) {
	b.conv1.ApplyBatch(mid, xs)
	b.conv2.ApplyBatch(out, mid)
	for i := range xs {
		b.addShortcut(xs[i], out[i], res[i])
	}
}

// addShortcut writes ReLU(out + shortcut(x)) into res. For a residual block the shortcut is x
// and res is out. For a down block it is x's 2×2 average pool with zero channels added, and
// out is padded with zeros at the bottom and right where the pool is larger (the VALID
// stride-2 convolution lost a row and a column that the pool kept; the reference pads so),
// with the arithmetic of nn.AvgPool, nn.PadChannels, nn.PadSpatial and nn.AddReLU.
func (b *residualBlock) addShortcut(x, out, res *nn.Tensor) {
	if !b.down {
		nn.AddReLU(out, out, x)
		return
	}
	R, S, C, K := res.H, out.H, x.C, b.out
	row := x.W * C
	for y := range R {
		for xx := range R {
			dst := res.Data[(y*R+xx)*K : (y*R+xx+1)*K]
			if y < S && xx < S {
				copy(dst, out.Data[(y*S+xx)*K:(y*S+xx+1)*K])
			} else {
				clear(dst)
			}
			p := (2*y*x.W + 2*xx) * C
			p00, p01 := x.Data[p:p+C], x.Data[p+C:p+2*C]
			p10, p11 := x.Data[p+row:p+row+C], x.Data[p+row+C:p+row+2*C]
			for c := range C {
				s := float32(0) + p00[c]
				s += p01[c]
				s += p10[c]
				s += p11[c]
				s *= 0.25
				dst[c] = max(dst[c]+s, 0)
			}
			for c := C; c < K; c++ {
				dst[c] = max(dst[c]+0, 0)
			}
		}
	}
}
