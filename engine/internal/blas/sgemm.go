package blas

import (
	"fmt"
	"math"
	"os"
	"sync"
)

// kernel is one microkernel and the blocking that suits it: it computes an mr×nr tile of C
// from an mr-row panel of A and a K-block of an nr-column panel of B. Its methods packed (A
// packed: kc groups of mr row values) and rows (A read in place: mr rows lda floats apart),
// in the dispatch files, call the kernel directly rather than through a func value, so that
// the tile and epilogue the drivers pass stay on their stacks.
type kernel struct {
	name   string
	id     kernelID
	mr, nr int // tile rows (broadcast A values) and columns (vector lanes)
	kcMax  int // K-block: an nr-column B panel (kcMax·nr floats) stays in L1 with its A rows
	mcMax  int // M-block: the A block (mcMax·kcMax floats) stays in L2
	// tails are kernels with fewer rows (ascending) and the same nr, for the last rows of A
	// when fewer than mr are left: they read the same packed B.
	tails []*kernel
	// narrow, if set, is a kernel with fewer columns that B matrices of at most narrow.nr
	// columns are packed for instead (see forCols).
	narrow *kernel
}

// forCols returns the kernel to lay out an n-column B for: kern, or its narrow companion when
// all n columns fit one of the narrow kernel's panels. A 16-column layer (TinyFaceDetector's
// first ones, at 208×208 pixels and more) would otherwise fill only half of every 32-column
// AVX-512 tile and go through the edge path: measured 2× slower than the AVX2 kernel.
func (kern *kernel) forCols(n int) *kernel {
	if kern.narrow != nil && n <= kern.narrow.nr {
		return kern.narrow
	}
	return kern
}

// forRows returns the kernel for a group of rows ≤ mr rows: the smallest tail that covers them,
// else kern itself.
func (kern *kernel) forRows(rows int) *kernel {
	for _, t := range kern.tails {
		if rows <= t.mr {
			return t
		}
	}
	return kern
}

type kernelID int

const (
	idGo kernelID = iota
	idAVX2
	idAVX512
	idAVX512x8
	idAVX512x4
)

const (
	maxMR = 12 // the largest mr and nr of any kernel (edge buffers)
	maxNR = 32
	// PanelRows is a multiple of the rows of A every kernel takes at a time (6 for AVX2 and
	// Go, 12 for AVX-512): callers that size blocks of rows in multiples of it never leave a
	// partial panel, whichever kernel runs.
	PanelRows = 12
)

// goKernel is the portable microkernel (6×16, any CPU).
var goKernel = &kernel{name: "go", id: idGo, mr: goMR, nr: goNR, kcMax: goKC, mcMax: 120}

// active is the kernel PackB and Sgemm use: the first of kernels (the fastest this CPU runs),
// or the one FACECLUSTER_BLAS_KERNEL names. Tests switch it with useKernel.
var active = selectKernel(os.Getenv("FACECLUSTER_BLAS_KERNEL"))

// selectKernel returns the kernel named name ("avx512", "avx2", "go"), or the fastest available
// if name is empty. Naming a kernel this build or CPU lacks panics: the variable exists to
// test and measure each kernel on one machine, and a silent fallback would mislead both.
func selectKernel(name string) *kernel {
	if name == "" {
		return kernels[0]
	}
	for _, k := range kernels {
		if k.name == name {
			return k
		}
	}
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	panic(fmt.Sprintf("blas: FACECLUSTER_BLAS_KERNEL=%q: this machine/build has %v", name, names))
}

// Sgemm computes C += A·B for row-major matrices: A is m×k (row stride lda), B is k×n (row
// stride ldb) and C is m×n (row stride ldc). A is only read: its rows may overlap (lda < k),
// as in every function here that takes lda (nn's strip convolution lays patches out so).
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	checkArgs(m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 || k == 0 {
		return
	}
	pb := packBPool.Get().(*PackedB)
	pb.pack(active, k, n, b, ldb)
	gemm(m, a, lda, pb, nil, true, c, ldc)
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

// PackedB is a k×n right-hand matrix laid out once for repeated multiplication (layer weights)
// for the microkernel in use when it was packed: K-blocks of nr-column panels, each panel
// row-major with zero columns past n. It is immutable after PackB and safe for concurrent use.
type PackedB struct {
	K, N int
	kern *kernel // the kernel whose panel width and K-block the layout has
	kc   int     // K-block length (the last block may be shorter)
	data []float32
}

// PackB copies the row-major k×n matrix b (row stride ldb) into the layout SgemmPacked reads.
func PackB(k, n int, b []float32, ldb int) *PackedB {
	if k < 0 || n < 0 || (k > 0 && n > 0 && (ldb < n || len(b) < (k-1)*ldb+n)) {
		panic(fmt.Sprintf("blas: PackB: B (%d values, ldb %d) too short for %d×%d", len(b), ldb, k, n))
	}
	p := new(PackedB)
	p.pack(active, k, n, b, ldb)
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

func (p *PackedB) pack(kern *kernel, k, n int, b []float32, ldb int) {
	kern = kern.forCols(n)
	nr := kern.nr
	p.K, p.N, p.kern = k, n, kern
	p.kc = blockLen(k, kern.kcMax, 4)
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
	gemm(m, a, lda, b, nil, true, c, ldc)
}

// Epilogue is a per-column transform fused into the store of C:
// x = x·scale[j] + bias[j]; x = max(x, alpha·x); x = min(x, hi).
// alpha 0 is ReLU, 1 is none, 0.1 is leaky ReLU; hi +Inf or 6 (ReLU6).
type Epilogue struct {
	scale, bias []float32 // padded to whole panels of every kernel (a multiple of maxNR)
	alpha, hi   float32
}

// NewEpilogue builds the epilogue for n columns; nil scale means 1, nil bias 0.
func NewEpilogue(n int, scale, bias []float32, alpha, hi float32) *Epilogue {
	if (scale != nil && len(scale) != n) || (bias != nil && len(bias) != n) {
		panic(fmt.Sprintf("blas: NewEpilogue: %d scale and %d bias values for %d columns", len(scale), len(bias), n))
	}
	npad := (n + maxNR - 1) / maxNR * maxNR
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
	gemm(m, a, lda, b, ep, false, c, ldc)
}

const (
	flagAccumulate = 1
	flagEpilogue   = 2
)

// bufPool holds scratch for a packed partial group of A rows (mr × K-block) and the Go
// kernel's gathered rows.
var bufPool = sync.Pool{New: func() any { return new([]float32) }}

func getBuf(n int) *[]float32 {
	p := bufPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// edgeTile holds a partial tile computed into a whole one.
type edgeTile [maxMR * maxNR]float32

// storeEdge copies the rows×cols corner of the tile computed into edge (row stride nr) to C,
// applying accumulation and the epilogue as the kernel would have.
func storeEdge(edge []float32, nr, rows, cols int, c []float32, ci, ldc, flags int, e *Epilogue) {
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

// gemm is the blocked driver: C (+)= ep(A·B) with the kernel b was packed for. accumulate
// keeps C's contents; the epilogue (if any) is applied with the last K-block. A is read in
// place, mr rows at a time (measured as fast as or faster than packing it on these shapes: its
// M×K-block stays in L2 either way); only a last group of fewer than mr rows is packed,
// zero-padded.
func gemm(m int, a []float32, lda int, b *PackedB, ep *Epilogue, accumulate bool, c []float32, ldc int) {
	kern := b.kern
	mr, nr := kern.mr, kern.nr
	n, k := b.N, b.K
	npad := (n + nr - 1) / nr * nr
	mc := blockLen(m, kern.mcMax, mr)
	apb := getBuf(mr * b.kc)
	defer bufPool.Put(apb)
	ap := *apb
	var edge edgeTile
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
			tk := kern.forRows(mcl - full) // the last rows' kernel
			if full < mcl {
				packA(ap, tk.mr, a[(ic+full)*lda+pc:], lda, mcl-full, kcl)
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
						kern.rows(kcl, a[(ic+i)*lda+pc:], lda, bp, c[ci:ci+(mr-1)*ldc+nr], ldc, flags, e)
						continue
					case rows == mr:
						kern.rows(kcl, a[(ic+i)*lda+pc:], lda, bp, edge[:mr*nr], nr, 0, e)
					case rows == tk.mr && cols == nr:
						tk.packed(kcl, ap[:tk.mr*kcl], bp, c[ci:ci+(rows-1)*ldc+nr], ldc, flags, e)
						continue
					default:
						tk.packed(kcl, ap[:tk.mr*kcl], bp, edge[:tk.mr*nr], nr, 0, e)
					}
					storeEdge(edge[:], nr, rows, cols, c, ci, ldc, flags, e)
				}
			}
		}
	}
}

// packA copies the first rows (< mr) rows of an A block, kcl values each, into an mr-row panel,
// k-major (the mr row values of one k step together), with zero rows past rows.
func packA(dst []float32, mr int, a []float32, lda, rows, kcl int) {
	pan := dst[:mr*kcl]
	clear(pan)
	for r := 0; r < rows; r++ {
		row := a[r*lda : r*lda+kcl]
		for q, v := range row {
			pan[q*mr+r] = v
		}
	}
}

const (
	goMR = 6   // rows of the Go kernel's tile
	goNR = 16  // columns of the Go kernel's tile
	goKC = 320 // its K-block
)

// kernelGo is the portable microkernel, with the same contract as the assembly kernel6x16.
func kernelGo(k int, a, b, c []float32, ldc, flags int, ep *Epilogue) {
	const mr, nr = goMR, goNR
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

// kernelGoRows gathers the six rows into the packed order, then runs kernelGo.
func kernelGoRows(k int, a []float32, lda int, b, c []float32, ldc, flags int, ep *Epilogue) {
	var buf [goMR * goKC]float32
	p := buf[:goMR*k]
	for r := range goMR {
		for q, v := range a[r*lda : r*lda+k] {
			p[q*goMR+r] = v
		}
	}
	kernelGo(k, p, b, c, ldc, flags, ep)
}

// rowsMaxB is the largest packed B (bytes) for which SgemmRows pays off: B is re-read from L2
// for every mr rows of A instead of packing A.
const rowsMaxB = 256 << 10

// PreferRows reports whether SgemmRows suits b (small weights, read from L2 for every panel of
// rows).
func (p *PackedB) PreferRows() bool { return len(p.data)*4 <= rowsMaxB }

// SgemmRows computes C = ep(A·B), overwriting C, reading A (m×B.K, row stride lda) in place
// rather than packing it: the better choice for small B (see PreferRows), such as the first
// layers of a network and im2col done a panel of rows at a time. If m is not a multiple of
// PanelRows and a holds whole groups of PanelRows rows, the extra rows are read but not stored.
func SgemmRows(m int, a []float32, lda int, b *PackedB, ep *Epilogue, c []float32, ldc int) {
	checkArgs(m, b.N, b.K, a, lda, b.data, b.N, c, ldc)
	if m == 0 || b.N == 0 || b.K == 0 {
		panic("blas: SgemmRows with an empty dimension")
	}
	gemmRows(m, a, lda, b, ep, c, ldc)
}

func gemmRows(m int, a []float32, lda int, b *PackedB, ep *Epilogue, c []float32, ldc int) {
	kern := b.kern
	mr, nr := kern.mr, kern.nr
	n, k := b.N, b.K
	npad := (n + nr - 1) / nr * nr
	var edge edgeTile
	var noEp Epilogue
	for i := 0; i < m; i += mr {
		rows := min(mr, m-i)
		tk := kern.forRows(rows) // kern, or a smaller one for the last rows
		ai, ld := a[i*lda:], lda
		if rows < tk.mr && len(a)-i*lda < (tk.mr-1)*lda+k { // A does not extend to a whole group
			tp := getBuf(tk.mr * k)
			defer bufPool.Put(tp)
			tail := *tp // the last rows, zero-padded to a whole group
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
				if rows == tk.mr && cols == nr {
					tk.rows(kcl, ai[pc:], ld, bp, c[ci:ci+(rows-1)*ldc+nr], ldc, flags, e)
					continue
				}
				tk.rows(kcl, ai[pc:], ld, bp, edge[:tk.mr*nr], nr, 0, e)
				storeEdge(edge[:], nr, rows, cols, c, ci, ldc, flags, e)
			}
		}
	}
}
