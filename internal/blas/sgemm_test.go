package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randMat(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// naiveGemm is the float64 reference: C += A·B.
func naiveGemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*lda+p]) * float64(b[p*ldb+j])
			}
			out[i*ldc+j] += s
		}
	}
	return out
}

func checkClose(t *testing.T, got []float32, want []float64, k int) {
	t.Helper()
	tol := 1e-5 * float64(k+1)
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) {
			t.Fatalf("element %d: got %v want %v (diff %g)", i, got[i], want[i], d)
		}
	}
}

var shapes = []struct{ m, n, k int }{
	{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 5, 0}, {7, 9, 11}, {8, 8, 8}, {13, 17, 19}, {6, 16, 33},
	{31, 33, 29}, {64, 64, 64}, {97, 65, 130}, {200, 47, 300}, {1, 128, 256}, {289, 32, 288},
}

func TestSgemmMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		for _, pad := range []int{0, 3} {
			t.Run(fmt.Sprintf("%dx%dx%d+%d", s.m, s.n, s.k, pad), func(t *testing.T) {
				lda, ldb, ldc := s.k+pad, s.n+pad, s.n+pad
				a := randMat(r, s.m*lda)
				b := randMat(r, max(s.k, 1)*ldb)
				c := randMat(r, s.m*ldc)
				want := naiveGemm(s.m, s.n, s.k, a, lda, b, ldb, c, ldc)
				Sgemm(s.m, s.n, s.k, a, lda, b, ldb, c, ldc)
				checkClose(t, c, want, s.k)

				c2 := randMat(r, s.m*ldc)
				want2 := naiveGemm(s.m, s.n, s.k, a, lda, b, ldb, c2, ldc)
				SgemmPacked(s.m, a, lda, PackB(s.k, s.n, b, ldb), c2, ldc)
				checkClose(t, c2, want2, s.k)
			})
		}
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{256, 256, 256}, {1225, 32, 288}, {289, 64, 576}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			a, bb, c := randMat(r, s.m*s.k), randMat(r, s.k*s.n), make([]float32, s.m*s.n)
			pb := PackB(s.k, s.n, bb, s.n)
			for b.Loop() {
				SgemmPacked(s.m, a, s.k, pb, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
