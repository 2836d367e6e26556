package blas

import (
	"fmt"
	"math"
	"sync"
)

const (
	mr    = 6   // rows of a microkernel tile
	nr    = 16  // columns of a microkernel tile
	kcMax = 320 // K-block: a 16-column B panel (≤ 20 KiB) stays in L1 with its A panel
	mcMax = 120 // M-block: the packed A block (≤ 150 KiB) stays in L2
)

// Sgemm computes C += A·B for row-major matrices: A is m×k (row stride lda), B is k×n (row
// stride ldb) and C is m×n (row stride ldc). A is only read: its rows may overlap (lda < k),
// as in every function here that takes lda (nn's strip convolution lays patches out so).
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		checkArgs(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	checkArgs(m, n, k, a, lda, b, ldb, c, ldc)
	pb := packBPool.Get().(*PackedB)
	pb.pack(k, n, b, ldb)
	gemm(m, a, lda, pb, nil, true, c, ldc, useAsm)
	packBPool.Put(pb)
}

var packBPool = sync.Pool{New: func() any { return new(PackedB) }}

func checkArgs(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	switch {
	case m < 0 || n < 0 || k < 0:
		panic(fmt.Sprintf("blas: negative dimension m=%d n=%d k=%d", m, n, k))
	case m > 0 && k > 0 && (lda < 1 || len(a) < (m-1)*lda+k):
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
	gemm(m, a, lda, b, nil, true, c, ldc, useAsm)
}

// Epilogue is a per-column transform fused into the store of C:
// x = x·scale[j] + bias[j]; x = max(x, alpha·x); x = min(x, hi).
// alpha 0 is ReLU, 1 is none, 0.1 is leaky ReLU; hi +Inf or 6 (ReLU6).
type Epilogue struct {
	scale, bias []float32 // padded to whole 16-column panels
	alpha, hi   float32
}

// NewEpilogue builds the epilogue for n columns; nil scale means 1, nil bias 0.
func NewEpilogue(n int, scale, bias []float32, alpha, hi float32) *Epilogue {
	if (scale != nil && len(scale) != n) || (bias != nil && len(bias) != n) {
		panic(fmt.Sprintf("blas: NewEpilogue: %d scale and %d bias values for %d columns", len(scale), len(bias), n))
	}
	npad := (n + nr - 1) / nr * nr
	e := &Epilogue{scale: make([]float32, npad), bias: make([]float32, npad), alpha: alpha, hi: hi}
	for j := range n {
		e.scale[j] = 1
		if scale != nil {
			e.scale[j] = scale[j]
		}
		if bias != nil {
			e.bias[j] = bias[j]
		}
	}
	return e
}

// apply is the epilogue of one value, fused multiply-add as in the assembly kernel: a row of
// C then comes out the same whether it lies in a full tile or in an edge tile (nn's batched
// convolutions rely on it to give each image the result it gets alone).
func (e *Epilogue) apply(x float32, j int) float32 {
	x = float32(math.FMA(float64(x), float64(e.scale[j]), float64(e.bias[j])))
	return min(max(x, e.alpha*x), e.hi)
}

// SgemmEpilogue computes C = ep(A·B), overwriting C; A is m×B.K (row stride lda).
func SgemmEpilogue(m int, a []float32, lda int, b *PackedB, ep *Epilogue, c []float32, ldc int) {
	checkArgs(m, b.N, b.K, a, lda, b.data, b.N, c, ldc)
	if m == 0 || b.N == 0 || b.K == 0 {
		panic("blas: SgemmEpilogue with an empty dimension")
	}
	gemm(m, a, lda, b, ep, false, c, ldc, useAsm)
}

// PanelRows is the number of rows of A the microkernel takes at a time.
const PanelRows = mr

// aBuf holds a packed partial group of A rows (six rows × kcMax).
type aBuf [mr * kcMax]float32

var aPool = sync.Pool{New: func() any { return new(aBuf) }}

const (
	flagAccumulate = 1
	flagEpilogue   = 2
)

// gemm is the blocked driver: C (+)= ep(A·B). accumulate keeps C's contents; the epilogue
// (if any) is applied with the last K-block. asm selects the assembly microkernel (tests run
// both).
// gemm is the blocked driver: C (+)= ep(A·B). accumulate keeps C's contents; the epilogue
// (if any) is applied with the last K-block. A is read in place, six rows at a time (measured
// as fast as or faster than packing it on these shapes: its M×K-block stays in L2 either way);
// only a last group of fewer than six rows is packed, zero-padded. asm selects the assembly
// microkernel (tests run both).
func gemm(m int, a []float32, lda int, b *PackedB, ep *Epilogue, accumulate bool, c []float32, ldc int, asm bool) {
	n, k := b.N, b.K
	npad := (n + nr - 1) / nr * nr
	mc := blockLen(m, mcMax, mr)
	ap := aPool.Get().(*aBuf)
	defer aPool.Put(ap)
	var edge [mr * nr]float32
	var noEp Epilogue
	for pc := 0; pc < k; pc += b.kc {
		kcl := min(b.kc, k-pc)
		bBlock := b.data[pc*npad : (pc+kcl)*npad]
		flags := 0
		if accumulate || pc > 0 {
			flags |= flagAccumulate
		}
		var blockEp *Epilogue
		if ep != nil && pc+kcl == k {
			flags |= flagEpilogue
			blockEp = ep
		}
		for ic := 0; ic < m; ic += mc {
			mcl := min(mc, m-ic)
			full := mcl / mr * mr
			if full < mcl {
				packA(ap[:], a[(ic+full)*lda+pc:], lda, mcl-full, kcl)
			}
			for j := 0; j < n; j += nr {
				cols := min(nr, n-j)
				bp := bBlock[j*kcl : (j+nr)*kcl]
				e := &noEp
				if blockEp != nil {
					e = &Epilogue{scale: blockEp.scale[j : j+nr], bias: blockEp.bias[j : j+nr], alpha: blockEp.alpha, hi: blockEp.hi}
				}
				for i := 0; i < mcl; i += mr {
					rows := min(mr, mcl-i)
					ci := (ic+i)*ldc + j
					switch {
					case rows == mr && cols == nr:
						microKernelRows(kcl, a[(ic+i)*lda+pc:], lda, bp, c[ci:ci+(mr-1)*ldc+nr], ldc, flags, e, asm)
						continue
					case rows == mr:
						microKernelRows(kcl, a[(ic+i)*lda+pc:], lda, bp, edge[:], nr, 0, e, asm)
					default:
						microKernel(kcl, ap[:mr*kcl], bp, edge[:], nr, 0, e, asm)
					}
					for r := 0; r < rows; r++ {
						dst := c[ci+r*ldc : ci+r*ldc+cols]
						for q, v := range edge[r*nr : r*nr+cols] {
							if flags&flagAccumulate != 0 {
								v += dst[q]
							}
							if flags&flagEpilogue != 0 {
								v = e.apply(v, q)
							}
							dst[q] = v
						}
					}
				}
			}
		}
	}
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

func microKernel(k int, a, b, c []float32, ldc, flags int, ep *Epilogue, asm bool) {
	if asm {
		kernelAsm(k, a, b, c, ldc, flags, ep)
		return
	}
	kernelGo(k, a, b, c, ldc, flags, ep)
}

// kernelGo is the portable microkernel, with the same contract as the assembly kernel6x16.
func kernelGo(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
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
			v := acc[r][j]
			if flags&flagAccumulate != 0 {
				v += dst[j]
			}
			if flags&flagEpilogue != 0 {
				v = ep.apply(v, j)
			}
			dst[j] = v
		}
	}
}

// rowsMaxB is the largest packed B (bytes) for which SgemmRows pays off: B is re-read from L2
// for every six rows of A instead of packing A.
const rowsMaxB = 256 << 10

// PreferRows reports whether SgemmRows suits b (small weights, read from L2 for every six rows).
func (p *PackedB) PreferRows() bool { return len(p.data)*4 <= rowsMaxB }

// SgemmRows computes C = ep(A·B), overwriting C, reading A (m×B.K, row stride lda) in place
// rather than packing it: the better choice for small B (see PreferRows), such as the first
// layers of a network and im2col done six rows at a time. If m is not a multiple of PanelRows
// and a holds whole groups of PanelRows rows, the extra rows are read but not stored.
func SgemmRows(m int, a []float32, lda int, b *PackedB, ep *Epilogue, c []float32, ldc int) {
	checkArgs(m, b.N, b.K, a, lda, b.data, b.N, c, ldc)
	if m == 0 || b.N == 0 || b.K == 0 {
		panic("blas: SgemmRows with an empty dimension")
	}
	gemmRows(m, a, lda, b, ep, c, ldc, useAsm)
}

var tailPool = sync.Pool{New: func() any { return new([]float32) }}

func gemmRows(m int, a []float32, lda int, b *PackedB, ep *Epilogue, c []float32, ldc int, asm bool) {
	n, k := b.N, b.K
	npad := (n + nr - 1) / nr * nr
	var edge [mr * nr]float32
	var noEp Epilogue
	var tail []float32 // the last rows, zero-padded to a whole group
	for i := 0; i < m; i += mr {
		rows := min(mr, m-i)
		ai, ld := a[i*lda:], lda
		if rows < mr && len(a)-i*lda < (mr-1)*lda+k { // A does not extend to a whole group
			tp := tailPool.Get().(*[]float32)
			defer tailPool.Put(tp)
			if cap(*tp) < mr*k {
				*tp = make([]float32, mr*k)
			}
			tail = (*tp)[:mr*k]
			clear(tail)
			for r := range rows {
				copy(tail[r*k:(r+1)*k], a[(i+r)*lda:(i+r)*lda+k])
			}
			ai, ld = tail, k
		}
		for pc := 0; pc < k; pc += b.kc {
			kcl := min(b.kc, k-pc)
			bBlock := b.data[pc*npad : (pc+kcl)*npad]
			flags := 0
			if pc > 0 {
				flags |= flagAccumulate
			}
			last := pc+kcl == k && ep != nil
			if last {
				flags |= flagEpilogue
			}
			for j := 0; j < n; j += nr {
				cols := min(nr, n-j)
				bp := bBlock[j*kcl : (j+nr)*kcl]
				e := &noEp
				if last {
					e = &Epilogue{scale: ep.scale[j : j+nr], bias: ep.bias[j : j+nr], alpha: ep.alpha, hi: ep.hi}
				}
				ci := i*ldc + j
				if rows == mr && cols == nr {
					microKernelRows(kcl, ai[pc:], ld, bp, c[ci:ci+(mr-1)*ldc+nr], ldc, flags, e, asm)
					continue
				}
				microKernelRows(kcl, ai[pc:], ld, bp, edge[:], nr, 0, e, asm)
				for r := 0; r < rows; r++ {
					dst := c[ci+r*ldc : ci+r*ldc+cols]
					for q, v := range edge[r*nr : r*nr+cols] {
						if flags&flagAccumulate != 0 {
							v += dst[q]
						}
						if flags&flagEpilogue != 0 {
							v = e.apply(v, q)
						}
						dst[q] = v
					}
				}
			}
		}
	}
}

func microKernelRows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue, asm bool) {
	if asm {
		kernelAsmRows(k, a, lda, b, c, ldc, flags, ep)
		return
	}
	// Portable: gather the six rows into the packed order, then the packed kernel.
	var buf [mr * kcMax]float32
	p := buf[:mr*k]
	for r := range mr {
		for q, v := range a[r*lda : r*lda+k] {
			p[q*mr+r] = v
		}
	}
	kernelGo(k, p, b, c, ldc, flags, ep)
}
