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
	{250, 40, 700}, {121, 17, 321}, {130, 64, 64}, {12, 32, 17}, {25, 95, 257}, {500, 33, 520}, {16, 64, 100}, {20, 32, 50}, {4, 96, 800},
}

// useKernel makes kern the one PackB and Sgemm use until the test ends.
func useKernel(t testing.TB, kern *kernel) {
	prev := active
	k := *kern
	k.narrow = nil // every shape through kern itself, narrow ones included
	active = &k
	t.Cleanup(func() { active = prev })
}

// forEachKernel runs f as a subtest with each kernel this machine and build have active.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	if len(kernels) == 1 {
		t.Log("no assembly kernel on this machine/build: portable kernel only")
	}
	for _, kern := range kernels {
		t.Run(kern.name, func(t *testing.T) {
			useKernel(t, kern)
			f(t)
		})
	}
}

func TestKernelsAvailable(t *testing.T) {
	names := ""
	for _, k := range kernels {
		names += " " + k.name
		if k.mr > maxMR || k.nr > maxNR || PanelRows%k.mr != 0 || maxNR%k.nr != 0 {
			t.Errorf("kernel %s: %d×%d does not fit maxMR %d, maxNR %d, PanelRows %d", k.name, k.mr, k.nr, maxMR, maxNR, PanelRows)
		}
		prev := 0
		for _, tail := range k.tails {
			if tail.nr != k.nr || tail.mr <= prev || tail.mr >= k.mr || tail.kcMax != k.kcMax {
				t.Errorf("kernel %s: tail %s (%d×%d) does not share its layout or is out of order", k.name, tail.name, tail.mr, tail.nr)
			}
			prev = tail.mr
		}
		for rows := 1; rows <= k.mr; rows++ {
			if tk := k.forRows(rows); tk.mr < rows {
				t.Errorf("kernel %s: %d rows go to %s with %d", k.name, rows, tk.name, tk.mr)
			}
		}
	}
	t.Logf("kernels:%s (using %s)", names, active.name)
	if kernels[len(kernels)-1] != goKernel {
		t.Error("the portable kernel is not the last resort")
	}
}

func TestSgemmMatchesNaive(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
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

					c3 := randMat(r, s.m*ldc)
					want3 := naiveGemm(s.m, s.n, s.k, a, lda, b, ldb, c3, ldc)
					SgemmPacked(s.m, a, lda, PackB(s.k, s.n, b, ldb), c3, ldc)
					checkClose(t, c3, want3, s.k)
				})
			}
		}
	})
}

// TestKernelTiles runs each kernel alone on one whole tile, packed and in place, for every
// k remainder of its unrolled loop and every flag combination.
func TestKernelTiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all []*kernel
	for _, kern := range kernels {
		all = append(append(all, kern), kern.tails...)
	}
	for _, kern := range all {
		mr, nr := kern.mr, kern.nr
		for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 13, kern.kcMax} {
			for flags := range 4 {
				t.Run(fmt.Sprintf("%s/k%d/flags%d", kern.name, k, flags), func(t *testing.T) {
					const lda, ldc = 1000, 40
					a := randMat(r, (mr-1)*lda+k)
					b := randMat(r, k*nr)
					c0 := randMat(r, (mr-1)*ldc+nr)
					scale, bias := randMat(r, nr), randMat(r, nr)
					ep := &Epilogue{scale: scale, bias: bias, alpha: 0.1, hi: 0.5}
					want := make([]float64, len(c0))
					for i := range want {
						want[i] = float64(c0[i]) // untouched between rows
					}
					for i := range mr {
						for j := range nr {
							var s float64
							for q := range k {
								s += float64(a[i*lda+q]) * float64(b[q*nr+j])
							}
							if flags&flagAccumulate != 0 {
								s += float64(c0[i*ldc+j])
							}
							if flags&flagEpilogue != 0 {
								s = s*float64(scale[j]) + float64(bias[j])
								s = math.Min(math.Max(s, 0.1*s), 0.5)
							}
							want[i*ldc+j] = s
						}
					}
					packed := make([]float32, mr*k)
					packA(packed, mr, a, lda, mr, k)
					c := append([]float32(nil), c0...)
					kern.packed(k, packed, b, c, ldc, flags, ep)
					checkClose(t, c, want, k)
					c = append([]float32(nil), c0...)
					kern.rows(k, a, lda, b, c, ldc, flags, ep)
					checkClose(t, c, want, k)
				})
			}
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
				forEachKernel(t, func(t *testing.T) {
					pb := PackB(s.k, s.n, b, s.n)
					c := randMat(r, s.m*s.n) // overwritten, whatever it held
					gemm(s.m, a, s.k, pb, ep, false, c, s.n)
					checkClose(t, c, want, s.k)
					c = randMat(r, s.m*s.n)
					gemmRows(s.m, a, s.k, pb, ep, c, s.n)
					checkClose(t, c, want, s.k)
					if ei != 0 {
						return
					}
					c = make([]float32, s.m*s.n)
					SgemmEpilogue(s.m, a, s.k, pb, ep, c, s.n)
					checkClose(t, c, want, s.k)
					// In-place A with a row stride wider than K, and with whole groups of
					// PanelRows rows present (the rows past m are read, not stored).
					groups := (s.m + PanelRows - 1) / PanelRows * PanelRows
					wide := randMat(r, groups*(s.k+5))
					for i := range s.m {
						copy(wide[i*(s.k+5):], a[i*s.k:(i+1)*s.k])
					}
					for _, w := range [][]float32{wide[:(s.m-1)*(s.k+5)+s.k], wide} {
						c = make([]float32, s.m*s.n+1)
						c[s.m*s.n] = 42
						SgemmRows(s.m, w, s.k+5, pb, ep, c, s.n)
						checkClose(t, c[:s.m*s.n], want, s.k)
						if c[s.m*s.n] != 42 {
							t.Fatalf("SgemmRows wrote past row %d", s.m)
						}
					}
				})
			})
		}
	}
}

// TestPackedBKeepsItsKernel checks that weights packed for one kernel are multiplied by that
// kernel whatever is active later (the layouts differ).
func TestPackedBKeepsItsKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const m, n, k = 37, 45, 70
	a, b := randMat(r, m*k), randMat(r, k*n)
	want := naiveGemm(m, n, k, a, k, b, n, make([]float32, m*n), n)
	for _, packer := range kernels {
		useKernel(t, packer)
		pb := PackB(k, n, b, n)
		for _, runner := range kernels {
			useKernel(t, runner)
			c := make([]float32, m*n)
			SgemmPacked(m, a, k, pb, c, n)
			checkClose(t, c, want, k)
		}
	}
}

func TestSelectKernel(t *testing.T) {
	if selectKernel("") != kernels[0] {
		t.Error("default is not the fastest available kernel")
	}
	for _, k := range kernels {
		if selectKernel(k.name) != k {
			t.Errorf("selectKernel(%q) is not %s", k.name, k.name)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("an unknown kernel name did not panic")
		}
	}()
	selectKernel("avx1024")
}

// TestRowIndependentOfTile checks that a row of C comes out bit for bit the same whichever
// tile computes it (a whole tile, a smaller tail kernel, an edge tile), as nn's batched
// convolutions rely on: each image gets the result it gets alone.
func TestRowIndependentOfTile(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const m, n, k = 29, 70, 45
	a := randMat(r, m*k)
	bm := randMat(r, k*n)
	ep := NewEpilogue(n, randMat(r, n), randMat(r, n), 0.1, 6)
	forEachKernel(t, func(t *testing.T) {
		b := PackB(k, n, bm, n)
		for _, rows := range []bool{false, true} {
			run := func(m int, a, c []float32) {
				if rows {
					gemmRows(m, a, k, b, ep, c, n)
				} else {
					gemm(m, a, k, b, ep, false, c, n)
				}
			}
			all := make([]float32, m*n)
			run(m, a, all)
			for start := 0; start < m; start += 5 {
				for cnt := 1; start+cnt <= m; cnt += 3 {
					part := make([]float32, cnt*n)
					run(cnt, a[start*k:(start+cnt)*k], part)
					for i, v := range part {
						if v != all[start*n+i] {
							t.Fatalf("rows=%v: rows %d..%d alone: C[%d] = %v, in the whole product %v", rows, start, start+cnt, i, v, all[start*n+i])
						}
					}
				}
			}
		}
	})
}

// TestNarrowMatricesUseTheNarrowKernel: a B of at most the narrow kernel's width is packed
// for it (a 16-column layer would waste half of every AVX-512 tile), wider ones for the kernel
// itself, and both multiply correctly.
func TestNarrowMatricesUseTheNarrowKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tested := false
	for _, kern := range kernels {
		if kern.narrow == nil {
			continue
		}
		tested = true
		prev := active
		active = kern
		t.Cleanup(func() { active = prev })
		for _, n := range []int{1, 7, kern.narrow.nr, kern.narrow.nr + 1, kern.nr, kern.nr + kern.narrow.nr} {
			const m, k = 37, 45
			a, b, c := randMat(r, m*k), randMat(r, k*n), randMat(r, m*n)
			p := PackB(k, n, b, n)
			want := kern
			if n <= kern.narrow.nr {
				want = kern.narrow
			}
			if p.kern != want {
				t.Errorf("%s, %d columns: packed for %s, want %s", kern.name, n, p.kern.name, want.name)
			}
			wantC := naiveGemm(m, n, k, a, k, b, n, c, n)
			SgemmPacked(m, a, k, p, c, n)
			checkClose(t, c, wantC, k)
		}
		active = prev
	}
	if !tested {
		t.Skip("no kernel on this machine/build has a narrow companion")
	}
}
