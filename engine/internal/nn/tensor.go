package nn

import "fmt"

// Tensor is an H×W×C activation map stored row-major in NHWC order (batch 1).
type Tensor struct {
	H, W, C int
	Data    []float32 // len(Data) == H*W*C
}

// NewTensor returns a zeroed h×w×c tensor.
func NewTensor(h, w, c int) *Tensor {
	if h < 0 || w < 0 || c < 0 {
		panic(fmt.Sprintf("nn: negative tensor shape %dx%dx%d", h, w, c))
	}
	return &Tensor{H: h, W: w, C: c, Data: make([]float32, h*w*c)}
}

// At returns the value at (y, x, c).
func (t *Tensor) At(y, x, c int) float32 { return t.Data[(y*t.W+x)*t.C+c] }

// Shape formats the shape as HxWxC for error messages.
func (t *Tensor) Shape() string { return fmt.Sprintf("%dx%dx%d", t.H, t.W, t.C) }

func (t *Tensor) sameShape(o *Tensor) bool { return t.H == o.H && t.W == o.W && t.C == o.C }

// Activation is the non-linearity fused into a layer's epilogue.
type Activation int

const (
	ActNone  Activation = iota
	ActReLU             // max(x, 0)
	ActReLU6            // min(max(x, 0), 6)
	ActLeaky            // x if x > 0 else 0.1·x (TinyFaceDetector)
)

// LeakyAlpha is the negative slope of ActLeaky.
const LeakyAlpha = 0.1

func (a Activation) apply(x float32) float32 {
	switch a {
	case ActReLU:
		return max(x, 0)
	case ActReLU6:
		return min(max(x, 0), 6)
	case ActLeaky:
		if x < 0 {
			return x * LeakyAlpha
		}
	}
	return x
}

// Padding is the number of zero rows/columns added on each side of the input.
type Padding struct{ Top, Bottom, Left, Right int }

// SamePadding returns TensorFlow's SAME padding for a kH×kW window with the given stride: the
// output is ceil(in/stride) and an odd total puts the extra row/column at the bottom/right.
func SamePadding(inH, inW, kH, kW, stride int) Padding {
	ph := samePad(inH, kH, stride)
	pw := samePad(inW, kW, stride)
	return Padding{Top: ph / 2, Bottom: ph - ph/2, Left: pw / 2, Right: pw - pw/2}
}

func samePad(in, k, stride int) int {
	out := (in + stride - 1) / stride
	return max((out-1)*stride+k-in, 0)
}

// OutputSize returns the output height and width of a kH×kW window sliding with stride over an
// inH×inW input padded by p.
func (p Padding) OutputSize(inH, inW, kH, kW, stride int) (h, w int) {
	return (inH+p.Top+p.Bottom-kH)/stride + 1, (inW+p.Left+p.Right-kW)/stride + 1
}

func checkWindow(op string, src *Tensor, kH, kW, stride int, p Padding) (oh, ow int) {
	if stride < 1 || kH < 1 || kW < 1 || p.Top < 0 || p.Bottom < 0 || p.Left < 0 || p.Right < 0 {
		panic(fmt.Sprintf("nn: %s: invalid window %dx%d stride %d padding %+v", op, kH, kW, stride, p))
	}
	if src.H+p.Top+p.Bottom < kH || src.W+p.Left+p.Right < kW {
		panic(fmt.Sprintf("nn: %s: input %s (padded %+v) smaller than the %dx%d window", op, src.Shape(), p, kH, kW))
	}
	return p.OutputSize(src.H, src.W, kH, kW, stride)
}
