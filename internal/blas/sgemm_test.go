package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
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
	{250, 40, 700}, {121, 17, 321}, {130, 64, 64},
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

				// Both microkernels (assembly where the CPU has it, and portable Go).
				for _, asm := range []bool{true, false} {
					if asm && !useAsm {
						t.Log("no AVX2+FMA assembly on this machine/build: portable kernel only")
						continue
					}
					c2 := randMat(r, s.m*ldc)
					want2 := naiveGemm(s.m, s.n, s.k, a, lda, b, ldb, c2, ldc)
					if s.m > 0 && s.n > 0 && s.k > 0 {
						gemm(s.m, a, lda, PackB(s.k, s.n, b, ldb), nil, true, c2, ldc, asm)
					}
					checkClose(t, c2, want2, s.k)
				}
				c3 := randMat(r, s.m*ldc)
				want3 := naiveGemm(s.m, s.n, s.k, a, lda, b, ldb, c3, ldc)
				SgemmPacked(s.m, a, lda, PackB(s.k, s.n, b, ldb), c3, ldc)
				checkClose(t, c3, want3, s.k)
			})
		}
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{256, 256, 256}, {512, 512, 512}, {1225, 32, 288}, {289, 64, 576}, {64, 128, 1152}} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			a, bb, c := randMat(r, s.m*s.k), randMat(r, s.k*s.n), make([]float32, s.m*s.n)
			pb := PackB(s.k, s.n, bb, s.n)
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				SgemmPacked(s.m, a, s.k, pb, c, s.n)
			}
			cpu := testutil.CPUTime() - cpu0
			total := 2 * float64(s.m*s.n*s.k) * float64(b.N)
			b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOPS")
			if cpu > 0 {
				b.ReportMetric(total/cpu.Seconds()/1e9, "cpu-GFLOPS")
			}
		})
	}
}

func TestEpilogue(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	inf := float32(math.Inf(1))
	epilogues := []struct {
		name      string
		alpha, hi float32
		scaled    bool
	}{{"none", 1, inf, false}, {"relu", 0, inf, true}, {"relu6", 0, 6, true}, {"leaky", 0.1, inf, false}}
	for _, s := range shapes {
		if s.m == 0 || s.n == 0 || s.k == 0 {
			continue
		}
		for ei, e := range epilogues {
			t.Run(fmt.Sprintf("%dx%dx%d-%s", s.m, s.n, s.k, e.name), func(t *testing.T) {
				a, b := randMat(r, s.m*s.k), randMat(r, s.k*s.n)
				for i := range a {
					a[i] *= 4
				}
				var scale []float32
				if e.scaled {
					scale = randMat(r, s.n)
				}
				bias := randMat(r, s.n)
				ep := NewEpilogue(s.n, scale, bias, e.alpha, e.hi)
				prod := naiveGemm(s.m, s.n, s.k, a, s.k, b, s.n, make([]float32, s.m*s.n), s.n)
				want := make([]float64, len(prod))
				for i, v := range prod {
					j := i % s.n
					if scale != nil {
						v *= float64(scale[j])
					}
					v += float64(bias[j])
					want[i] = math.Min(math.Max(v, float64(e.alpha)*v), float64(e.hi))
				}
				pb := PackB(s.k, s.n, b, s.n)
				for _, asm := range []bool{true, false} {
					if asm && !useAsm {
						continue
					}
					c := randMat(r, s.m*s.n) // overwritten, whatever it held
					gemm(s.m, a, s.k, pb, ep, false, c, s.n, asm)
					checkClose(t, c, want, s.k)
					c = randMat(r, s.m*s.n)
					gemmRows(s.m, a, s.k, pb, ep, c, s.n, asm)
					checkClose(t, c, want, s.k)
				}
				if ei == 0 {
					c := make([]float32, s.m*s.n)
					SgemmEpilogue(s.m, a, s.k, pb, ep, c, s.n)
					checkClose(t, c, want, s.k)
					// In-place A with a row stride wider than K.
					wide := make([]float32, s.m*(s.k+5))
					for i := range s.m {
						copy(wide[i*(s.k+5):], a[i*s.k:(i+1)*s.k])
					}
					c = make([]float32, s.m*s.n)
					SgemmRows(s.m, wide, s.k+5, pb, ep, c, s.n)
					checkClose(t, c, want, s.k)
				}
			})
		}
	}
}
