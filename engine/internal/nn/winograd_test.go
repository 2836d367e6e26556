package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// winogradTol bounds |winograd − exact| / (1 + |exact|) for inputs in [−8, 8] and weights in
// [−1, 1], per tile size m; the worst cases measured over the cases below are logged by
// TestWinogradMatchesDirectConvolution. F(2×2) keeps the im2col path's bound (1e-4); F(4×4)'s
// transforms have coefficients up to 8 and lose about one more decimal digit.
var winogradTol = map[int]float64{2: 1e-4, 4: 1e-3}

func TestWinogradMatchesDirectConvolution(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	acts := []Activation{ActNone, ActReLU, ActReLU6, ActLeaky}
	same := SamePadding
	cases := []struct {
		name          string
		h, w, in, out int
		pad           func(h, w, kh, kw, s int) Padding
	}{
		{"1x1 same", 1, 1, 1, 1, same},
		{"1x1 same C3", 1, 1, 3, 5, same},
		{"1x2 same", 1, 2, 4, 3, same},
		{"3x3 valid", 3, 3, 3, 7, valid},
		{"odd same", 7, 5, 3, 17, same},
		{"odd valid", 9, 7, 5, 6, valid},
		{"even same", 8, 6, 16, 16, same},
		{"explicit asymmetric", 6, 9, 8, 12, explicit(Padding{Top: 2, Bottom: 0, Left: 0, Right: 3})},
		{"explicit 1px odd", 5, 5, 24, 8, explicit(Padding{1, 1, 1, 1})},
		{"rec 35x35x32", 35, 35, 32, 32, same},
		{"rec 17x17x64", 17, 17, 64, 64, same},
		{"rec 8x8x128", 8, 8, 128, 128, same},
		{"rec 4x4x256 (large weights)", 4, 4, 256, 256, same},
		{"many tiles, several blocks", 41, 30, 8, 40, same},
		{"odd channels", 11, 10, 13, 19, explicit(Padding{Top: 0, Bottom: 1, Left: 1, Right: 0})},
	}
	worst := map[int]float64{}
	for ci, c := range cases {
		for _, m := range []int{2, 4} {
			t.Run(fmt.Sprintf("%s/F%d", c.name, m), func(t *testing.T) {
				src := randTensor(r, c.h, c.w, c.in)
				for i := range src.Data {
					src.Data[i] *= 8 // reach past ReLU6's ceiling
				}
				filter := randSlice(r, 9*c.in*c.out)
				pad := c.pad(c.h, c.w, 3, 3, 1)
				var scale, bias []float32
				if ci%2 == 0 {
					scale, bias = randSlice(r, c.out), randSlice(r, c.out)
				}
				act := acts[ci%len(acts)]
				want := naiveConv(src, filter, 3, 3, c.out, 1, pad, scale, bias, act, false)
				wg := newWinograd(m, filter, c.in, c.out, pad, scale, bias, act)
				forEachPath(t, func(t *testing.T) {
					got := NewTensor(want.H, want.W, want.C)
					for i := range got.Data {
						got.Data[i] = 42 // stale contents must not leak into the result
					}
					wg.applyTo(got, src)
					for i := range got.Data {
						d := math.Abs(float64(got.Data[i]-want.Data[i])) / (1 + math.Abs(float64(want.Data[i])))
						worst[m] = max(worst[m], d)
					}
					assertTensorClose(t, got, want, winogradTol[m])
				})
			})
		}
	}
	for _, m := range []int{2, 4} {
		t.Logf("F(%dx%d, 3x3): worst relative error %.3g (bound %g)", m, m, worst[m], winogradTol[m])
	}
}

// TestConv2DUsesWinogradWhereItPays checks the hook: the recognition net's 3×3 stride-1 layers
// with 32 to 256 channels (where it was measured faster) take the Winograd path
// and still match the direct convolution through the public API.
func TestConv2DUsesWinogradWhereItPays(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, s := range []struct{ h, c int }{{35, 32}, {17, 64}, {8, 128}, {4, 256}} {
		pad := SamePadding(s.h, s.h, 3, 3, 1)
		filter := randSlice(r, 9*s.c*s.c)
		conv := NewConv2D(filter, 3, 3, s.c, s.c, 1, pad, randSlice(r, s.c), randSlice(r, s.c), ActReLU)
		if conv.wino == nil || conv.wino.scheme.m != winogradTile(s.c, s.c) {
			t.Fatalf("%dx%dx%d: 3x3 stride-1 convolution does not use Winograd", s.h, s.h, s.c)
		}
		src := randTensor(r, s.h, s.h, s.c)
		want := naiveConv(src, filter, 3, 3, s.c, 1, pad, conv.wino.scale, conv.wino.bias, ActReLU, false)
		assertTensorClose(t, conv.Apply(src), want, winogradTol[conv.wino.scheme.m])
	}
}

// TestWinogradIsSafeForConcurrentUse runs one layer of each tile size from several goroutines
// (pooled scratch, shared transformed weights) and expects the single-threaded result.
func TestWinogradIsSafeForConcurrentUse(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	src := randTensor(r, 13, 11, 32)
	for _, m := range []int{2, 4} {
		wg := newWinograd(m, randSlice(r, 9*32*40), 32, 40, SamePadding(13, 11, 3, 3, 1), nil, randSlice(r, 40), ActReLU)
		want := NewTensor(13, 11, 40)
		wg.applyTo(want, src)
		done := make(chan *Tensor)
		for range 4 {
			go func() {
				got := NewTensor(13, 11, 40)
				for range 20 {
					wg.applyTo(got, src)
				}
				done <- got
			}()
		}
		for range 4 {
			assertTensorClose(t, <-done, want, 0)
		}
	}
}
