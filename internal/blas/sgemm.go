package blas

import "fmt"

// Sgemm computes C += A·B for row-major matrices: A is m×k (row stride lda), B is k×n (row
// stride ldb) and C is m×n (row stride ldc).
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkArgs(m, n, k, a, lda, b, ldb, c, ldc)
	sgemmGeneric(m, n, k, a, lda, b, ldb, c, ldc)
}

func checkArgs(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	switch {
	case m < 0 || n < 0 || k < 0:
		panic(fmt.Sprintf("blas: negative dimension m=%d n=%d k=%d", m, n, k))
	case k > 0 && (lda < k || len(a) < (m-1)*lda+k):
		panic(fmt.Sprintf("blas: A too short or lda %d < k %d", lda, k))
	case k > 0 && (ldb < n || len(b) < (k-1)*ldb+n):
		panic(fmt.Sprintf("blas: B too short or ldb %d < n %d", ldb, n))
	case ldc < n || len(c) < (m-1)*ldc+n:
		panic(fmt.Sprintf("blas: C too short or ldc %d < n %d", ldc, n))
	}
}

// sgemmGeneric is the portable implementation: row by row, each row of C accumulates scaled
// rows of B (contiguous inner loop the compiler can keep in registers).
func sgemmGeneric(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		ci := c[i*ldc : i*ldc+n]
		ai := a[i*lda : i*lda+k]
		for p, av := range ai {
			if av == 0 {
				continue
			}
			bp := b[p*ldb : p*ldb+n]
			for j, bv := range bp {
				ci[j] += av * bv
			}
		}
	}
}

// PackedB is a k×n right-hand matrix laid out once for repeated multiplication (layer weights).
// It is immutable and safe for concurrent use.
type PackedB struct {
	K, N int
	data []float32
}

// PackB copies the row-major k×n matrix b (row stride ldb) into the layout SgemmPacked reads.
func PackB(k, n int, b []float32, ldb int) *PackedB {
	if k < 0 || n < 0 || (k > 0 && (ldb < n || len(b) < (k-1)*ldb+n)) {
		panic(fmt.Sprintf("blas: PackB: B too short or ldb %d < n %d", ldb, n))
	}
	p := &PackedB{K: k, N: n, data: make([]float32, k*n)}
	for i := 0; i < k; i++ {
		copy(p.data[i*n:(i+1)*n], b[i*ldb:i*ldb+n])
	}
	return p
}

// SgemmPacked computes C += A·B where A is m×K (row stride lda) and C is m×N (row stride ldc).
func SgemmPacked(m int, a []float32, lda int, b *PackedB, c []float32, ldc int) {
	if m == 0 || b.N == 0 {
		return
	}
	checkArgs(m, b.N, b.K, a, lda, b.data, b.N, c, ldc)
	sgemmGeneric(m, b.N, b.K, a, lda, b.data, b.N, c, ldc)
}
