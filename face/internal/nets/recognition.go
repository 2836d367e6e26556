package nets

import (
	"fmt"
	"sync"

	"github.com/facecluster/facecluster/face/internal/weights"
	"github.com/facecluster/facecluster/internal/nn"
)

// RecognitionInputSize is the side of the square the recognition net sees.
const RecognitionInputSize = 150

// recognitionMean is the per-channel RGB mean subtracted before the recognition and landmark nets.
var recognitionMean = [3]float32{122.782, 117.001, 104.298}

// Recognition is face-api.js's FaceRecognitionNet (dlib's ResNet-34 variant): a face crop in,
// a 128-d descriptor out.
type Recognition struct {
	stem    *nn.Conv2D // 7×7 stride 2 VALID, conv bias and scale layer folded into the epilogue
	blocks  []residualBlock
	fc      []float32 // [256,128], no bias
	scratch sync.Pool // *recognitionScratch: activations reused between calls
}

// recognitionScratch holds the activations of one forward pass (the input size is fixed).
type recognitionScratch struct {
	input, stem *nn.Tensor
	blocks      []struct{ mid, out *nn.Tensor } // conv1 and conv2 outputs of each block
}

// residualBlock is a residual (down=false) or down-sampling (down=true) ResNet block.
type residualBlock struct {
	conv1, conv2 *nn.Conv2D
	down         bool
	out          int // output channels
	size         int // output side of conv1 and conv2
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
		b := residualBlock{down: l.down, out: l.out}
		if l.down {
			b.conv1 = scaledConv(p.Prefixed("conv1"), 3, l.in, l.out, 2, nn.Padding{}, nn.ActReLU)
			// The shortcut's 2×2 pool keeps ⌊side/2⌋, the convolution ⌊(side−3)/2⌋+1: one
			// less for even sides, made up below by a zero row and column (spatial tracks the
			// padded side).
			b.size = (spatial-3)/2 + 1
			spatial /= 2
		} else {
			b.size = spatial
			b.conv1 = scaledConv(p.Prefixed("conv1"), 3, l.in, l.out, 1, nn.SamePadding(spatial, spatial, 3, 3, 1), nn.ActReLU)
		}
		b.conv2 = scaledConv(p.Prefixed("conv2"), 3, l.out, l.out, 1, nn.SamePadding(b.size, b.size, 3, 3, 1), nn.ActNone)
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
	filters := r.Get("conv/filters", k, k, in, out)
	bias := r.Get("conv/bias", out)
	scale := r.Get("scale/weights", out)
	shift := r.Get("scale/biases", out)
	if r.Err() != nil {
		return nil
	}
	folded := make([]float32, out)
	for i := range folded {
		folded[i] = bias[i]*scale[i] + shift[i]
	}
	return nn.NewConv2D(filters, k, k, in, out, stride, pad, scale, folded, act)
}

// Describe returns the descriptor of a face crop given as RGB values 0..255 (any size; it is
// centred on a square and resized to 150×150 as in the reference). The descriptor is not
// normalised, as the reference's is not.
func (n *Recognition) Describe(face *nn.Tensor) [128]float32 {
	sc, _ := n.scratch.Get().(*recognitionScratch)
	if sc == nil {
		sc = n.newScratch()
	}
	defer n.scratch.Put(sc)
	x := sc.input
	squareInputTo(x, face, true)
	normalizeMeanRGB(x, recognitionMean)
	n.stem.ApplyTo(sc.stem, x)
	x = nn.MaxPool(sc.stem, 3, 2, nn.Padding{})
	for i := range n.blocks {
		x = n.blocks[i].apply(x, sc.blocks[i].mid, sc.blocks[i].out)
	}
	var d [128]float32
	copy(d[:], nn.FullyConnected(nn.GlobalMean(x), n.fc, nil))
	return d
}

func (n *Recognition) newScratch() *recognitionScratch {
	sc := &recognitionScratch{
		input: nn.NewTensor(RecognitionInputSize, RecognitionInputSize, 3),
		stem:  nn.NewTensor(72, 72, 32),
	}
	for _, b := range n.blocks {
		sc.blocks = append(sc.blocks, struct{ mid, out *nn.Tensor }{
			nn.NewTensor(b.size, b.size, b.out), nn.NewTensor(b.size, b.size, b.out),
		})
	}
	return sc
}

// apply runs the block on x; mid and out are scratch for conv1's and conv2's outputs. The
// result is out or, when the shortcut is larger, a new padded tensor.
func (b *residualBlock) apply(x, mid, out *nn.Tensor) *nn.Tensor {
	b.conv1.ApplyTo(mid, x)
	b.conv2.ApplyTo(out, mid)
	shortcut := x
	if b.down {
		shortcut = nn.AvgPool(x, 2, 2, nn.Padding{})
		if shortcut.C != b.out {
			shortcut = nn.PadChannels(shortcut, b.out)
		}
		if out.H != shortcut.H || out.W != shortcut.W {
			// The VALID stride-2 conv lost a row and a column that the pool kept: the reference
			// appends zeros at the bottom and right.
			out = nn.PadSpatial(out, nn.Padding{Bottom: shortcut.H - out.H, Right: shortcut.W - out.W})
		}
	}
	nn.AddReLU(out, out, shortcut)
	return out
}
