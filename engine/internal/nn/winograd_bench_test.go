package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
)

// BenchmarkWinograd compares, on the recognition net's 3×3 stride-1 layers, the im2col + gemm
// path with Winograd F(2×2, 3×3) and F(4×4, 3×3). GFLOPS count the direct convolution's 2·9·in·out per output
// pixel for both, so they compare time to the same result.
func BenchmarkWinograd(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, s := range []struct{ h, c int }{{35, 32}, {17, 64}, {8, 128}, {4, 256}} {
		pad := SamePadding(s.h, s.h, 3, 3, 1)
		filter := randSlice(r, 9*s.c*s.c)
		bias := randSlice(r, s.c)
		src := randTensor(r, s.h, s.h, s.c)
		dst := NewTensor(s.h, s.h, s.c)
		flops := 2 * float64(s.h*s.h*s.c*9*s.c)
		direct := NewConv2D(filter, 3, 3, s.c, s.c, 1, pad, nil, bias, ActReLU)
		direct.wino = nil
		f2 := newWinograd(2, filter, s.c, s.c, pad, nil, bias, ActReLU)
		f4 := newWinograd(4, filter, s.c, s.c, pad, nil, bias, ActReLU)
		for _, v := range []struct {
			name  string
			apply func()
		}{
			{"direct", func() { direct.ApplyTo(dst, src) }},
			{"F2x2", func() { f2.applyTo(dst, src) }},
			{"F4x4", func() { f4.applyTo(dst, src) }},
		} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", s.h, s.h, s.c, v.name), func(b *testing.B) {
				b.ReportAllocs()
				cpu0 := testutil.CPUTime()
				for b.Loop() {
					v.apply()
				}
				reportGFLOPS(b, flops, testutil.CPUTime()-cpu0)
			})
		}
	}
}
