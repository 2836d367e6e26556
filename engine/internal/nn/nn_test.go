package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randTensor(r *rand.Rand, h, w, c int) *Tensor {
	t := NewTensor(h, w, c)
	for i := range t.Data {
		t.Data[i] = r.Float32()*2 - 1
	}
	return t
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// naiveConv is the reference: a direct convolution in float64 with the epilogue applied.
func naiveConv(src *Tensor, filter []float32, kh, kw, out, stride int, p Padding, scale, bias []float32, act Activation, depthwise bool) *Tensor {
	oh := (src.H+p.Top+p.Bottom-kh)/stride + 1
	ow := (src.W+p.Left+p.Right-kw)/stride + 1
	dst := NewTensor(oh, ow, out)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for o := 0; o < out; o++ {
				var s float64
				for ky := 0; ky < kh; ky++ {
					for kx := 0; kx < kw; kx++ {
						iy, ix := oy*stride+ky-p.Top, ox*stride+kx-p.Left
						if iy < 0 || iy >= src.H || ix < 0 || ix >= src.W {
							continue
						}
						if depthwise {
							s += float64(src.At(iy, ix, o)) * float64(filter[(ky*kw+kx)*out+o])
							continue
						}
						for i := 0; i < src.C; i++ {
							s += float64(src.At(iy, ix, i)) * float64(filter[((ky*kw+kx)*src.C+i)*out+o])
						}
					}
				}
				if scale != nil {
					s *= float64(scale[o])
				}
				if bias != nil {
					s += float64(bias[o])
				}
				switch act {
				case ActReLU:
					s = math.Max(s, 0)
				case ActReLU6:
					s = math.Min(math.Max(s, 0), 6)
				case ActLeaky:
					if s < 0 {
						s *= 0.1
					}
				}
				dst.Data[(oy*ow+ox)*out+o] = float32(s)
			}
		}
	}
	return dst
}

// kernelPath is one selection of kernels: portable Go, AVX2+FMA or AVX-512.
type kernelPath struct {
	name        string
	asm, avx512 bool
}

// kernelPaths lists the paths this build and CPU can run, the portable one first.
func kernelPaths() []kernelPath {
	paths := []kernelPath{{"go", false, false}}
	if useAsm {
		paths = append(paths, kernelPath{"avx2", true, false})
	}
	if useAVX512 {
		paths = append(paths, kernelPath{"avx512", true, true})
	}
	return paths
}

// forEachPath runs f as a subtest under every kernel path this machine has (the AVX2 path too
// where the CPU also has AVX-512), restoring the selection afterwards.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	paths := kernelPaths()
	savedAsm, saved512 := useAsm, useAVX512
	defer func() { useAsm, useAVX512 = savedAsm, saved512 }()
	for _, p := range paths {
		useAsm, useAVX512 = p.asm, p.avx512
		t.Run(p.name, f)
	}
}

func assertTensorClose(t *testing.T, got, want *Tensor, tol float64) {
	t.Helper()
	if !got.sameShape(want) {
		t.Fatalf("shape %s, want %s", got.Shape(), want.Shape())
	}
	for i := range got.Data {
		if d := math.Abs(float64(got.Data[i] - want.Data[i])); d > tol*(1+math.Abs(float64(want.Data[i]))) {
			t.Fatalf("element %d (pixel %d, channel %d): got %v want %v", i, i/got.C, i%got.C, got.Data[i], want.Data[i])
		}
	}
}

type convCase struct {
	name                  string
	h, w, in, out, kh, kw int
	stride                int
	pad                   func(h, w, kh, kw, s int) Padding
}

func valid(int, int, int, int, int) Padding { return Padding{} }
func explicit(p Padding) func(int, int, int, int, int) Padding {
	return func(int, int, int, int, int) Padding { return p }
}

var convCases = []convCase{
	{"1x1", 1, 1, 1, 1, 1, 1, 1, valid},
	{"pointwise odd", 7, 5, 13, 9, 1, 1, 1, valid},
	{"pointwise stride2", 9, 8, 5, 11, 1, 1, 2, valid},
	{"3x3 same s1", 9, 11, 3, 17, 3, 3, 1, SamePadding},
	{"3x3 same s2 even", 16, 16, 8, 8, 3, 3, 2, SamePadding},
	{"3x3 same s2 odd", 15, 13, 5, 7, 3, 3, 2, SamePadding},
	{"3x3 valid s2", 17, 17, 9, 10, 3, 3, 2, valid},
	{"7x7 valid s2 stem", 23, 21, 3, 32, 7, 7, 2, valid},
	{"5x3 explicit", 8, 9, 6, 5, 5, 3, 1, explicit(Padding{Top: 2, Bottom: 1, Left: 0, Right: 3})},
	{"3x3 explicit 1px", 6, 6, 4, 12, 3, 3, 1, explicit(Padding{1, 1, 1, 1})},
	{"2x2 same s1", 5, 6, 3, 3, 2, 2, 1, SamePadding},
	{"3x3 same s1 C16", 7, 9, 16, 16, 3, 3, 1, SamePadding},
	{"3x3 same s2 even C32", 10, 8, 32, 32, 3, 3, 2, SamePadding},
	{"3x3 valid s1 C24", 6, 5, 24, 8, 3, 3, 1, valid},
	{"3x3 explicit 1px C8", 4, 4, 8, 8, 3, 3, 1, explicit(Padding{1, 1, 1, 1})},
	{"3x3 same s2 odd C64", 9, 9, 64, 16, 3, 3, 2, SamePadding},
	{"3x3 same s1 narrow C8", 5, 2, 8, 8, 3, 3, 1, SamePadding},
	{"3x3 same s2 tiny C8", 1, 1, 8, 8, 3, 3, 2, SamePadding},
	{"3x3 explicit wide C16", 3, 7, 16, 8, 3, 3, 1, explicit(Padding{0, 2, 2, 1})},
	// Weights too large for the in-place path: im2col into the packed layout.
	{"3x3 large weights s2", 7, 6, 128, 130, 3, 3, 2, SamePadding},
	{"1x1 large weights", 5, 7, 512, 160, 1, 1, 1, valid},
	{"1x1 K>=64 small weights", 3, 5, 72, 24, 1, 1, 1, valid},
}

func TestConv2DMatchesDirectConvolution(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	acts := []Activation{ActNone, ActReLU, ActReLU6, ActLeaky}
	for ci, c := range append(append([]convCase(nil), convCases...), directCases...) {
		t.Run(c.name, func(t *testing.T) {
			src := randTensor(r, c.h, c.w, c.in)
			for i := range src.Data {
				src.Data[i] *= 8 // reach past ReLU6's ceiling
			}
			filter := randSlice(r, c.kh*c.kw*c.in*c.out)
			pad := c.pad(c.h, c.w, c.kh, c.kw, c.stride)
			var scale, bias []float32
			if ci%2 == 0 {
				scale, bias = randSlice(r, c.out), randSlice(r, c.out)
			}
			act := acts[ci%len(acts)]
			conv := NewConv2D(filter, c.kh, c.kw, c.in, c.out, c.stride, pad, scale, bias, act)
			want := naiveConv(src, filter, c.kh, c.kw, c.out, c.stride, pad, scale, bias, act, false)
			forEachPath(t, func(t *testing.T) {
				got := conv.Apply(src)
				assertTensorClose(t, got, want, 1e-4)
				// A reused destination with stale contents gives the same result.
				for i := range got.Data {
					got.Data[i] = 42
				}
				conv.ApplyTo(got, src)
				assertTensorClose(t, got, want, 1e-4)
			})
		})
	}
}

// directCases are shapes for the direct kernel of convolutions with few input channels
// (AVX-512): 1–4 input channels, 32 or 64 outputs (16 and 48: the 16-channel kernel), rows of
// 1–21 interior pixels (groups of six or eight and single ones), windows reaching into every
// side's padding, images smaller than the window.
var directCases = []convCase{
	{"direct 3x3 same s2 RGB (SSD conv0)", 12, 13, 3, 32, 3, 3, 2, SamePadding},
	{"direct 3x3 same s1 1ch 64", 9, 14, 1, 64, 3, 3, 1, SamePadding},
	{"direct 7x7 valid s2 RGB (stem)", 19, 30, 3, 32, 7, 7, 2, valid},
	{"direct 5x3 explicit s1 4ch", 8, 9, 4, 32, 5, 3, 1, explicit(Padding{Top: 2, Bottom: 1, Left: 0, Right: 3})},
	{"direct 3x3 same 1x1 RGB", 1, 1, 3, 32, 3, 3, 2, SamePadding},
	{"direct 3x3 explicit 2x2 2ch", 2, 2, 2, 64, 3, 3, 1, explicit(Padding{1, 1, 1, 1})},
	{"direct 1x1 s1 RGB", 3, 7, 3, 32, 1, 1, 1, valid},
	{"direct 2x2 s3 RGB", 10, 11, 3, 32, 2, 2, 3, SamePadding},
	{"direct16 3x3 valid s1 RGB (Tiny conv0)", 13, 21, 3, 16, 3, 3, 1, valid},
	{"direct16 3x3 same s1 RGB 48", 11, 19, 3, 48, 3, 3, 1, SamePadding},
	{"direct16 5x3 explicit s2 2ch", 12, 23, 2, 16, 5, 3, 2, explicit(Padding{Top: 2, Bottom: 1, Left: 0, Right: 3})},
	{"direct16 3x3 same 1x1 RGB", 1, 1, 3, 16, 3, 3, 1, SamePadding},
}

// depthwiseCases add, to convCases, shapes that exercise the depthwise kernels' channel tails
// (C not a multiple of 16 or 8), their groups of four pixels and single pixels, and strides.
var depthwiseCases = []convCase{
	{"3x3 same s1 C13 row of 9", 3, 9, 13, 13, 3, 3, 1, SamePadding},
	{"3x3 same s2 C17", 9, 12, 17, 17, 3, 3, 2, SamePadding},
	{"3x3 valid s1 C40", 5, 11, 40, 40, 3, 3, 1, valid},
	{"3x3 same s2 C24 wide", 4, 21, 24, 24, 3, 3, 2, SamePadding},
	{"3x3 valid s3 C20", 10, 13, 20, 20, 3, 3, 3, valid},
	{"3x3 same s1 1x1 C33", 1, 1, 33, 33, 3, 3, 1, SamePadding},
	{"3x3 same s2 1x1 C7", 1, 1, 7, 7, 3, 3, 2, SamePadding},
	{"3x3 explicit s1 C1", 6, 7, 1, 1, 3, 3, 1, explicit(Padding{Top: 0, Bottom: 2, Left: 2, Right: 0})},
	{"3x3 explicit s2 C48", 7, 10, 48, 48, 3, 3, 2, explicit(Padding{Top: 1, Bottom: 0, Left: 0, Right: 1})},
	{"3x3 same s1 C64 row of 7", 2, 7, 64, 64, 3, 3, 1, SamePadding},
}

func TestDepthwiseMatchesDirectConvolution(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	acts := []Activation{ActReLU6, ActNone, ActLeaky, ActReLU}
	for ci, c := range append(append([]convCase(nil), convCases...), depthwiseCases...) {
		t.Run(c.name, func(t *testing.T) {
			src := randTensor(r, c.h, c.w, c.in)
			for i := range src.Data {
				src.Data[i] *= 8 // reach past ReLU6's ceiling
			}
			filter := randSlice(r, c.kh*c.kw*c.in)
			pad := c.pad(c.h, c.w, c.kh, c.kw, c.stride)
			var scale, bias []float32
			if ci%2 == 1 {
				scale, bias = randSlice(r, c.in), randSlice(r, c.in)
			}
			act := acts[ci%len(acts)]
			dw := NewDepthwiseConv2D(filter, c.kh, c.kw, c.in, c.stride, pad, scale, bias, act)
			want := naiveConv(src, filter, c.kh, c.kw, c.in, c.stride, pad, scale, bias, act, true)
			saved := dwBlock
			defer func() { dwBlock = saved }()
			for _, blk := range []int{saved, 16, 32} { // AVX-512: channels in blocks too
				dwBlock = blk
				forEachPath(t, func(t *testing.T) {
					oh, ow, oc := dw.OutputShape(c.h, c.w)
					d := NewTensor(oh, ow, oc)
					for i := range d.Data {
						d.Data[i] = 42 // stale contents must not leak into the result
					}
					dw.ApplyTo(d, src)
					assertTensorClose(t, d, want, 1e-4)
				})
			}
		})
	}
}

func TestSamePadding(t *testing.T) {
	for _, c := range []struct {
		in, k, s int
		want     [2]int // before, after
		out      int
	}{
		{16, 3, 2, [2]int{0, 1}, 8}, // TF SAME stride 2 on even sizes: bottom/right only
		{15, 3, 2, [2]int{1, 1}, 8},
		{9, 3, 1, [2]int{1, 1}, 9},
		{8, 2, 2, [2]int{0, 0}, 4},
		{7, 2, 2, [2]int{0, 1}, 4},
		{5, 2, 1, [2]int{0, 1}, 5},
		{512, 3, 2, [2]int{0, 1}, 256},
		{1, 3, 2, [2]int{1, 1}, 1},
	} {
		p := SamePadding(c.in, c.in, c.k, c.k, c.s)
		if p.Top != c.want[0] || p.Bottom != c.want[1] || p.Left != c.want[0] || p.Right != c.want[1] {
			t.Errorf("SamePadding(%d, k%d, s%d) = %+v, want before %d after %d", c.in, c.k, c.s, p, c.want[0], c.want[1])
		}
		if oh, _ := p.OutputSize(c.in, c.in, c.k, c.k, c.s); oh != c.out {
			t.Errorf("SAME output of %d k%d s%d = %d, want %d", c.in, c.k, c.s, oh, c.out)
		}
	}
}

func TestMaxPoolPaddingNeverWins(t *testing.T) {
	// All values negative: a zero from the padding must not appear in the output.
	src := &Tensor{H: 3, W: 3, C: 1, Data: []float32{-9, -8, -7, -6, -5, -4, -3, -2, -1}}
	got := MaxPool(src, 2, 2, SamePadding(3, 3, 2, 2, 2))
	want := []float32{-5, -4, -2, -1}
	if fmt.Sprint(got.Data) != fmt.Sprint(want) || got.H != 2 || got.W != 2 {
		t.Fatalf("MaxPool = %s %v, want 2x2x1 %v", got.Shape(), got.Data, want)
	}
	// Stride 1 SAME (TinyFaceDetector's last pool): pads bottom/right only.
	got = MaxPool(src, 2, 1, SamePadding(3, 3, 2, 2, 1))
	want = []float32{-5, -4, -4, -2, -1, -1, -2, -1, -1}
	if fmt.Sprint(got.Data) != fmt.Sprint(want) {
		t.Fatalf("MaxPool stride 1 = %v, want %v", got.Data, want)
	}
	// 3x3 stride 2 VALID over two channels.
	r := rand.New(rand.NewPCG(7, 8))
	src = randTensor(r, 9, 7, 2)
	got = MaxPool(src, 3, 2, Padding{})
	if got.H != 4 || got.W != 3 {
		t.Fatalf("MaxPool 3x3 s2 VALID of 9x7 = %s, want 4x3x2", got.Shape())
	}
	for oy := 0; oy < 4; oy++ {
		for ox := 0; ox < 3; ox++ {
			for c := 0; c < 2; c++ {
				m := float32(math.Inf(-1))
				for y := 2 * oy; y < 2*oy+3; y++ {
					for x := 2 * ox; x < 2*ox+3; x++ {
						m = max(m, src.At(y, x, c))
					}
				}
				if got.At(oy, ox, c) != m {
					t.Fatalf("(%d,%d,%d) = %v want %v", oy, ox, c, got.At(oy, ox, c), m)
				}
			}
		}
	}
}

func TestMaxPoolMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	cases := []struct {
		h, w, c, k, stride int
		same               bool
	}{
		{9, 7, 8, 3, 2, false}, {10, 10, 16, 2, 2, true}, {7, 9, 24, 2, 2, true}, {6, 5, 8, 2, 1, true},
		{13, 13, 32, 2, 1, true}, {5, 4, 8, 3, 1, true}, {8, 8, 5, 3, 2, true}, {2, 3, 8, 3, 2, true},
		{1, 1, 8, 2, 2, true}, {11, 12, 16, 3, 2, true},
		// Channel tails for the AVX-512 kernels (and the portable path for AVX2).
		{9, 7, 13, 3, 2, false}, {10, 11, 35, 2, 2, true}, {6, 5, 1, 2, 1, true}, {7, 8, 40, 3, 1, false},
	}
	for _, c := range cases {
		src := randTensor(r, c.h, c.w, c.c)
		pad := Padding{}
		if c.same {
			pad = SamePadding(c.h, c.w, c.k, c.k, c.stride)
		}
		oh, ow := pad.OutputSize(c.h, c.w, c.k, c.k, c.stride)
		want := NewTensor(oh, ow, c.c)
		for oy := range oh {
			for ox := range ow {
				for ch := range c.c {
					m := float32(math.Inf(-1))
					for ky := range c.k {
						for kx := range c.k {
							y, x := oy*c.stride-pad.Top+ky, ox*c.stride-pad.Left+kx
							if y >= 0 && y < c.h && x >= 0 && x < c.w {
								m = max(m, src.At(y, x, ch))
							}
						}
					}
					want.Data[(oy*ow+ox)*c.c+ch] = m
				}
			}
		}
		t.Run(fmt.Sprintf("%dx%dx%d-k%d-s%d", c.h, c.w, c.c, c.k, c.stride), func(t *testing.T) {
			forEachPath(t, func(t *testing.T) {
				assertTensorClose(t, MaxPool(src, c.k, c.stride, pad), want, 0)
				d := NewTensor(oh, ow, c.c)
				for i := range d.Data {
					d.Data[i] = 42 // stale contents must not leak into the result
				}
				MaxPoolTo(d, src, c.k, c.stride, pad)
				assertTensorClose(t, d, want, 0)
			})
		})
	}
}

func TestAvgPool(t *testing.T) {
	src := &Tensor{H: 2, W: 4, C: 2, Data: []float32{
		1, 10, 2, 20, 3, 30, 4, 40,
		5, 50, 6, 60, 7, 70, 8, 80,
	}}
	got := AvgPool(src, 2, 2, Padding{})
	want := []float32{3.5, 35, 5.5, 55}
	if fmt.Sprint(got.Data) != fmt.Sprint(want) || got.H != 1 || got.W != 2 {
		t.Fatalf("AvgPool = %s %v, want 1x2x2 %v", got.Shape(), got.Data, want)
	}
	// 7x7 global-style pool (landmark net) equals GlobalMean.
	r := rand.New(rand.NewPCG(9, 10))
	src = randTensor(r, 7, 7, 5)
	p := AvgPool(src, 7, 1, Padding{})
	g := GlobalMean(src)
	for c := range g {
		if math.Abs(float64(p.Data[c]-g[c])) > 1e-6 {
			t.Fatalf("channel %d: AvgPool %v, GlobalMean %v", c, p.Data[c], g[c])
		}
	}
}

func TestAddReLUGlobalMean(t *testing.T) {
	a := &Tensor{H: 1, W: 2, C: 2, Data: []float32{1, -2, 3, -4}}
	b := &Tensor{H: 1, W: 2, C: 2, Data: []float32{0.5, 1, -5, 2}}
	Add(a, a, b)
	if fmt.Sprint(a.Data) != fmt.Sprint([]float32{1.5, -1, -2, -2}) {
		t.Fatalf("Add = %v", a.Data)
	}
	if m := GlobalMean(a); fmt.Sprint(m) != fmt.Sprint([]float32{-0.25, -1.5}) {
		t.Fatalf("GlobalMean = %v", m)
	}
	ReLU(a)
	if fmt.Sprint(a.Data) != fmt.Sprint([]float32{1.5, 0, 0, 0}) {
		t.Fatalf("ReLU = %v", a.Data)
	}
}

func TestElementwiseLengths(t *testing.T) {
	// Lengths around the assembly's 8-, 16-, 32- and 64-float steps, every path.
	r := rand.New(rand.NewPCG(15, 16))
	forEachPath(t, func(t *testing.T) {
		for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 77, 80, 1000} {
			a, b := randTensor(r, 1, n, 1), randTensor(r, 1, n, 1)
			sum, sumRelu, relu := NewTensor(1, n, 1), NewTensor(1, n, 1), NewTensor(1, n, 1)
			copy(relu.Data, a.Data)
			Add(sum, a, b)
			AddReLU(sumRelu, a, b)
			ReLU(relu)
			for i := range n {
				s := a.Data[i] + b.Data[i]
				if sum.Data[i] != s || sumRelu.Data[i] != max(s, 0) || relu.Data[i] != max(a.Data[i], 0) {
					t.Fatalf("n=%d i=%d: Add %v AddReLU %v ReLU %v for a=%v b=%v", n, i, sum.Data[i], sumRelu.Data[i], relu.Data[i], a.Data[i], b.Data[i])
				}
			}
		}
	})
}

func TestFullyConnected(t *testing.T) {
	in := []float32{1, 2, 3}
	w := []float32{ // [3, 2]
		1, 0.5,
		-1, 2,
		0, 1,
	}
	got := FullyConnected(in, w, []float32{10, 20})
	if fmt.Sprint(got) != fmt.Sprint([]float32{9, 27.5}) {
		t.Fatalf("FullyConnected = %v, want [9 27.5]", got)
	}
	if got := FullyConnected(in, w, nil); fmt.Sprint(got) != fmt.Sprint([]float32{-1, 7.5}) {
		t.Fatalf("FullyConnected without bias = %v", got)
	}
}

func TestPadSpatialAndChannels(t *testing.T) {
	src := &Tensor{H: 1, W: 2, C: 2, Data: []float32{1, 2, 3, 4}}
	got := PadSpatial(src, Padding{Top: 0, Bottom: 1, Left: 1, Right: 0})
	want := []float32{0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0}
	if got.Shape() != "2x3x2" || fmt.Sprint(got.Data) != fmt.Sprint(want) {
		t.Fatalf("PadSpatial = %s %v, want 2x3x2 %v", got.Shape(), got.Data, want)
	}
	got = PadChannels(src, 3)
	if got.Shape() != "1x2x3" || fmt.Sprint(got.Data) != fmt.Sprint([]float32{1, 2, 0, 3, 4, 0}) {
		t.Fatalf("PadChannels = %s %v", got.Shape(), got.Data)
	}
}

func TestResizeBilinearTfjsSemantics(t *testing.T) {
	// 1x4 -> 1x3: sample x at 0, 4/3, 8/3 (no half-pixel, no corner alignment).
	src := &Tensor{H: 1, W: 4, C: 1, Data: []float32{0, 10, 20, 30}}
	got := ResizeBilinear(src, 1, 3)
	want := []float64{0, 10 + 10.0/3, 20 + 20.0/3}
	for i, w := range want {
		if math.Abs(float64(got.Data[i])-w) > 1e-4 {
			t.Fatalf("downscale = %v, want %v", got.Data, want)
		}
	}
	// 2x2 -> 4x4 upscale: the last row/column clamps to the edge.
	src = &Tensor{H: 2, W: 2, C: 2, Data: []float32{0, 100, 4, 100, 8, 100, 12, 100}}
	got = ResizeBilinear(src, 4, 4)
	wantCh0 := []float32{
		0, 2, 4, 4,
		4, 6, 8, 8,
		8, 10, 12, 12,
		8, 10, 12, 12,
	}
	for i, w := range wantCh0 {
		if got.Data[i*2] != w || got.Data[i*2+1] != 100 {
			t.Fatalf("upscale pixel %d = (%v, %v), want (%v, 100)", i, got.Data[i*2], got.Data[i*2+1], w)
		}
	}
	// Same size is the identity.
	r := rand.New(rand.NewPCG(11, 12))
	src = randTensor(r, 5, 6, 3)
	assertTensorClose(t, ResizeBilinear(src, 5, 6), src, 0)
}

func TestLayersAreSafeForConcurrentUse(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	src := randTensor(r, 12, 12, 8)
	conv := NewConv2D(randSlice(r, 3*3*8*16), 3, 3, 8, 16, 1, SamePadding(12, 12, 3, 3, 1), nil, randSlice(r, 16), ActReLU)
	want := conv.Apply(src)
	done := make(chan *Tensor)
	for range 4 {
		go func() {
			var last *Tensor
			for range 20 {
				last = conv.Apply(src)
			}
			done <- last
		}()
	}
	for range 4 {
		assertTensorClose(t, <-done, want, 0)
	}
}
