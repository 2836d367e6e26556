package blas

import (
	"fmt"
	"sync"
)

const (
	mr    = 6   // rows of a microkernel tile
	nr    = 16  // columns of a microkernel tile
	kcMax = 320 // K-block: a 16-column B panel (≤ 20 KiB) stays in L1 with its A panel
	mcMax = 120 // M-block: the packed A block (≤ 150 KiB) stays in L2
)

// Sgemm computes C += A·B for row-major matrices: A is m×k (row stride lda), B is k×n (row
// stride ldb) and C is m×n (row stride ldc).
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		checkArgs(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	checkArgs(m, n, k, a, lda, b, ldb, c, ldc)
	pb := packBPool.Get().(*PackedB)
	pb.pack(k, n, b, ldb)
	gemm(m, a, lda, pb, c, ldc, useAsm)
	packBPool.Put(pb)
}

var packBPool = sync.Pool{New: func() any { return new(PackedB) }}

func checkArgs(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	switch {
	case m < 0 || n < 0 || k < 0:
		panic(fmt.Sprintf("blas: negative dimension m=%d n=%d k=%d", m, n, k))
	case m > 0 && k > 0 && (lda < k || len(a) < (m-1)*lda+k):
		panic(fmt.Sprintf("blas: A (%d values, lda %d) too short for %d×%d", len(a), lda, m, k))
	case k > 0 && n > 0 && (ldb < n || len(b) < (k-1)*ldb+n):
		panic(fmt.Sprintf("blas: B (%d values, ldb %d) too short for %d×%d", len(b), ldb, k, n))
	case m > 0 && n > 0 && (ldc < n || len(c) < (m-1)*ldc+n):
		panic(fmt.Sprintf("blas: C (%d values, ldc %d) too short for %d×%d", len(c), ldc, m, n))
	}
}

// PackedB is a k×n right-hand matrix laid out once for repeated multiplication (layer weights):
// K-blocks of 16-column panels, each panel row-major with zero columns past n.
// It is immutable after PackB and safe for concurrent use.
type PackedB struct {
	K, N int
	kc   int // K-block length (the last block may be shorter)
	data []float32
}

// PackB copies the row-major k×n matrix b (row stride ldb) into the layout SgemmPacked reads.
func PackB(k, n int, b []float32, ldb int) *PackedB {
	if k < 0 || n < 0 || (k > 0 && n > 0 && (ldb < n || len(b) < (k-1)*ldb+n)) {
		panic(fmt.Sprintf("blas: PackB: B (%d values, ldb %d) too short for %d×%d", len(b), ldb, k, n))
	}
	p := new(PackedB)
	p.pack(k, n, b, ldb)
	return p
}

// blockLen splits total into the fewest blocks of at most maxLen, of nearly equal length, so
// that K=576 becomes 2×288 rather than 320+256.
func blockLen(total, maxLen, multiple int) int {
	if total <= maxLen {
		return total
	}
	blocks := (total + maxLen - 1) / maxLen
	l := (total + blocks - 1) / blocks
	return (l + multiple - 1) / multiple * multiple
}

func (p *PackedB) pack(k, n int, b []float32, ldb int) {
	p.K, p.N = k, n
	p.kc = blockLen(k, kcMax, 4)
	npad := (n + nr - 1) / nr * nr
	if cap(p.data) < k*npad {
		p.data = make([]float32, k*npad)
	}
	p.data = p.data[:k*npad]
	off := 0
	for pc := 0; pc < k; pc += p.kc {
		kcl := min(p.kc, k-pc)
		for j := 0; j < n; j += nr {
			cols := min(nr, n-j)
			for q := 0; q < kcl; q++ {
				dst := p.data[off : off+nr]
				copy(dst, b[(pc+q)*ldb+j:(pc+q)*ldb+j+cols])
				clear(dst[cols:])
				off += nr
			}
		}
	}
}

// SgemmPacked computes C += A·B where A is m×B.K (row stride lda) and C is m×B.N (row stride ldc).
func SgemmPacked(m int, a []float32, lda int, b *PackedB, c []float32, ldc int) {
	checkArgs(m, b.N, b.K, a, lda, b.data, b.N, c, ldc)
	if m == 0 || b.N == 0 || b.K == 0 {
		return
	}
	gemm(m, a, lda, b, c, ldc, useAsm)
}

// aBuf is the packed A block: mcMax rows × kcMax, in 6-row panels.
type aBuf [mcMax * kcMax]float32

var aPool = sync.Pool{New: func() any { return new(aBuf) }}

// gemm is the blocked driver; asm selects the assembly microkernel (tests run both).
func gemm(m int, a []float32, lda int, b *PackedB, c []float32, ldc int, asm bool) {
	n, k := b.N, b.K
	npad := (n + nr - 1) / nr * nr
	mc := blockLen(m, mcMax, mr)
	ap := aPool.Get().(*aBuf)
	var edge [mr * nr]float32
	for pc := 0; pc < k; pc += b.kc {
		kcl := min(b.kc, k-pc)
		bBlock := b.data[pc*npad : (pc+kcl)*npad]
		for ic := 0; ic < m; ic += mc {
			mcl := min(mc, m-ic)
			packA(ap[:], a[ic*lda+pc:], lda, mcl, kcl)
			for j := 0; j < n; j += nr {
				cols := min(nr, n-j)
				bp := bBlock[j*kcl : (j+nr)*kcl]
				for i := 0; i < mcl; i += mr {
					rows := min(mr, mcl-i)
					apan := ap[i*kcl : (i+mr)*kcl]
					ci := (ic+i)*ldc + j
					if rows == mr && cols == nr {
						microKernel(kcl, apan, bp, c[ci:ci+(mr-1)*ldc+nr], ldc, asm)
						continue
					}
					clear(edge[:])
					microKernel(kcl, apan, bp, edge[:], nr, asm)
					for r := 0; r < rows; r++ {
						dst := c[ci+r*ldc : ci+r*ldc+cols]
						for q, v := range edge[r*nr : r*nr+cols] {
							dst[q] += v
						}
					}
				}
			}
		}
	}
	aPool.Put(ap)
}

// packA copies an mcl×kcl block of A into 6-row panels, each k-major (the 6 row values of one
// k step together), with zero rows past mcl.
func packA(dst []float32, a []float32, lda, mcl, kcl int) {
	for i := 0; i < mcl; i += mr {
		pan := dst[i*kcl : (i+mr)*kcl]
		rows := min(mr, mcl-i)
		if rows == mr {
			r0, r1, r2 := a[i*lda:i*lda+kcl], a[(i+1)*lda:(i+1)*lda+kcl], a[(i+2)*lda:(i+2)*lda+kcl]
			r3, r4, r5 := a[(i+3)*lda:(i+3)*lda+kcl], a[(i+4)*lda:(i+4)*lda+kcl], a[(i+5)*lda:(i+5)*lda+kcl]
			for q := range kcl {
				p := pan[q*mr : q*mr+mr : q*mr+mr]
				p[0], p[1], p[2], p[3], p[4], p[5] = r0[q], r1[q], r2[q], r3[q], r4[q], r5[q]
			}
			continue
		}
		clear(pan)
		for r := 0; r < rows; r++ {
			row := a[(i+r)*lda : (i+r)*lda+kcl]
			for q, v := range row {
				pan[q*mr+r] = v
			}
		}
	}
}

func microKernel(k int, a, b, c []float32, ldc int, asm bool) {
	if asm {
		kernelAsm(k, a, b, c, ldc)
		return
	}
	kernelGo(k, a, b, c, ldc)
}

// kernelGo is the portable microkernel: C[6×16] += A·B with A, B packed as for the assembly.
func kernelGo(k int, a, b, c []float32, ldc int) {
	var acc [mr][nr]float32
	for q := 0; q < k; q++ {
		bq := (*[nr]float32)(b[q*nr : q*nr+nr])
		aq := a[q*mr : q*mr+mr]
		for r := range mr {
			av := aq[r]
			row := &acc[r]
			for j := range nr {
				row[j] += av * bq[j]
			}
		}
	}
	for r := range mr {
		dst := c[r*ldc : r*ldc+nr]
		for j := range nr {
			dst[j] += acc[r][j]
		}
	}
}
