package blas

import (
	"math/rand/v2"
	"testing"
)

// TestOverlappingRowsOfA checks that A's rows may overlap (lda < k), as nn's strip
// convolution passes them: the result is that of the rows copied out one by one.
func TestOverlappingRowsOfA(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, s := range []struct{ m, n, k, lda int }{{72, 32, 147, 42}, {11, 17, 27, 9}, {7, 16, 9, 3}, {13, 40, 400, 5}} {
		a := randMat(r, (s.m-1)*s.lda+s.k)
		rows := make([]float32, s.m*s.k)
		for i := range s.m {
			copy(rows[i*s.k:(i+1)*s.k], a[i*s.lda:i*s.lda+s.k])
		}
		bm := randMat(r, s.k*s.n)
		ep := NewEpilogue(s.n, randMat(r, s.n), randMat(r, s.n), 0, 6)
		for _, kern := range kernels {
			useKernel(t, kern)
			b := PackB(s.k, s.n, bm, s.n)
			drivers := map[string]func(a []float32, lda int, c []float32){
				"rows":   func(a []float32, lda int, c []float32) { gemmRows(s.m, a, lda, b, ep, c, s.n) },
				"packed": func(a []float32, lda int, c []float32) { gemm(s.m, a, lda, b, ep, false, c, s.n) },
			}
			for name, f := range drivers {
				want, got := make([]float32, s.m*s.n), make([]float32, s.m*s.n)
				f(rows, s.k, want)
				f(a, s.lda, got)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s %+v %s: C[%d] = %v, want %v", name, s, kern.name, i, got[i], want[i])
					}
				}
			}
		}
	}
}
