package gallery

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"
)

// slack absorbs float64 rounding in the bounds; distances are O(1), so it never matters for
// pruning and keeps the search exact.
const slack = 1e-6

// minPart is the fewest descriptors worth a goroutine of their own.
const minPart = 16384

type query struct {
	x  *[Dim]float32
	q  [Dim]int16
	eq float64 // norm of the query's own quantisation error
}

func newQuery(d *[Dim]float32) *query {
	q := &query{x: d}
	var e float64
	for i, v := range d {
		k := max(-127, min(127, math.Round(float64(v)/qStep)))
		q.q[i] = int16(k)
		diff := float64(v) - k*qStep
		e += diff * diff
	}
	q.eq = math.Sqrt(e) + slack
	return q
}

// exactDist is the reference distance: float64 sum over the float32 components in order.
func (g *Gallery) exactDist(q *[Dim]float32, i int) float64 {
	x := (*[Dim]float32)(g.exact[i*Dim : (i+1)*Dim])
	var s float64
	for k := range Dim {
		d := float64(q[k]) - float64(x[k])
		s += d * d
	}
	return math.Sqrt(s)
}

var d2Pool = sync.Pool{New: func() any { return new([]int32) }}

// floatPool recycles the per-person sums of the matcher (one per goroutine and search).
var floatPool = sync.Pool{New: func() any { return new([]float64) }}

func floats(n int) []float64 {
	p := floatPool.Get().(*[]float64)
	if cap(*p) < n {
		*p = make([]float64, n)
	}
	s := (*p)[:n]
	clear(s)
	return s
}

func putFloats(s []float64) { floatPool.Put(&s) }

// partsFor is the number of parts parallel splits n descriptors into: perCPU per GOMAXPROCS
// (more parts than CPUs lets an idle CPU take over the work of one the OS has descheduled), and
// none smaller than minPart.
func partsFor(n, perCPU int) int {
	return max(1, min(perCPU*runtime.GOMAXPROCS(0), n/minPart))
}

// parallel runs fn over [0, n) split into parts contiguous ranges, one goroutine each.
func parallel(n, parts int, fn func(part, lo, hi int)) {
	if parts == 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { fn(p, lo, hi) })
	}
	wg.Wait()
}

// maxHeap keeps the k smallest values seen; top is the largest of them.
type maxHeap []float64

func (h *maxHeap) offer(v float64, k int) {
	s := *h
	if len(s) < k {
		s = append(s, v)
		for i := len(s) - 1; i > 0; {
			p := (i - 1) / 2
			if s[p] >= s[i] {
				break
			}
			s[p], s[i] = s[i], s[p]
			i = p
		}
		*h = s
		return
	}
	if v >= s[0] {
		return
	}
	s[0] = v
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l] > s[m] {
			m = l
		}
		if r < len(s) && s[r] > s[m] {
			m = r
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
}

// intLimit is the largest squared int8 distance whose quantised distance qStep·√d2 can still be
// ≤ limit; larger ones are skipped without a square root.
func intLimit(limit float64) int32 {
	if limit < 0 {
		return -1
	}
	v := limit / qStep
	if v*v >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(v*v) + 1
}

// Nearest returns the k descriptors nearest to d, nearest first (ties by example ID).
func (g *Gallery) Nearest(d [Dim]float32, k int) []Neighbor {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := len(g.ids)
	if k <= 0 || n == 0 {
		return nil
	}
	k = min(k, n)
	q := newQuery(&d)
	d2p := d2Pool.Get().(*[]int32)
	defer d2Pool.Put(d2p)
	if cap(*d2p) < n {
		*d2p = make([]int32, n)
	}
	d2 := (*d2p)[:n]

	// Stage 1: quantised distances and, per part, the k smallest upper bounds.
	parts := partsFor(n, 4)
	heaps := make([]maxHeap, parts)
	parallel(n, parts, func(part, lo, hi int) {
		sqDists(&q.q, g.quant[lo*Dim:hi*Dim], d2[lo:hi])
		h := make(maxHeap, 0, k)
		skip := int32(math.MaxInt32)
		for j := lo; j < hi; j++ {
			if d2[j] > skip {
				continue
			}
			h.offer(qStep*math.Sqrt(float64(d2[j]))+float64(g.resid[j])+q.eq, k)
			if len(h) == k {
				skip = intLimit(h[0] - q.eq)
			}
		}
		heaps[part] = h
	})
	var all []float64
	for _, h := range heaps {
		all = append(all, h...)
	}
	slices.Sort(all)
	tau := all[k-1] // the k-th nearest is at most this far

	// Stage 2: exact distances of every descriptor whose lower bound is within tau.
	rmax := g.rmax
	limit := intLimit(tau + rmax + q.eq)
	type exactCand struct {
		j    int
		dist float64
	}
	cands := make([][]exactCand, parts)
	parallel(n, parts, func(part, lo, hi int) {
		var out []exactCand
		for j := lo; j < hi; j++ {
			if d2[j] > limit {
				continue
			}
			if qStep*math.Sqrt(float64(d2[j]))-float64(g.resid[j])-q.eq > tau {
				continue
			}
			out = append(out, exactCand{j, g.exactDist(&d, j)})
		}
		cands[part] = out
	})
	var ex []exactCand
	for _, c := range cands {
		ex = append(ex, c...)
	}
	slices.SortFunc(ex, func(a, b exactCand) int {
		if c := cmp.Compare(a.dist, b.dist); c != 0 {
			return c
		}
		return cmp.Compare(g.ids[a.j], g.ids[b.j])
	})
	res := make([]Neighbor, min(k, len(ex)))
	for i := range res {
		j := ex[i].j
		p := &g.people[g.slots[j]]
		res[i] = Neighbor{ExampleID: g.ids[j], PersonID: p.id, Person: p.name, Distance: float32(ex[i].dist)}
	}
	return res
}

// evaluation is one face against the gallery: the exact mean distance of every person that can
// be the best or fall below the threshold, and the exact nearest descriptor.
type evaluation struct {
	cands    []personMean // candidate persons with exact means
	best     personMean   // the best person (smallest mean, ties by person ID)
	bestEx   int          // index of the nearest descriptor
	bestDist float64
}

type personMean struct {
	slot int32
	id   int64
	mean float64
}

// evaluate scans the gallery for d; persons whose mean lower bound is ≤ limit are kept as
// candidates besides those that can be the best. The caller holds the read lock; n > 0.
func (g *Gallery) evaluate(d *[Dim]float32, limit float64) evaluation {
	n := len(g.ids)
	q := newQuery(d)
	d2p := d2Pool.Get().(*[]int32)
	defer d2Pool.Put(d2p)
	if cap(*d2p) < n {
		*d2p = make([]int32, n)
	}
	d2 := (*d2p)[:n]
	np := len(g.people)
	// One part per CPU here: each part sums per person, which costs memory per part.
	parts := partsFor(n, 1)
	sums := make([][]float64, parts)
	minUB := make([]float64, parts)
	parallel(n, parts, func(part, lo, hi int) {
		sqDists(&q.q, g.quant[lo*Dim:hi*Dim], d2[lo:hi])
		s := floats(np)
		best := math.Inf(1)
		for j := lo; j < hi; j++ {
			dh := qStep * math.Sqrt(float64(d2[j]))
			s[g.slots[j]] += dh
			best = min(best, dh+float64(g.resid[j]))
		}
		sums[part], minUB[part] = s, best+q.eq
	})
	tauEx := slices.Min(minUB)

	// Person bounds: mean of the quantised distances ± (mean error norm + query error).
	mark := make([]bool, np)
	tauP := math.Inf(1)
	lbs := make([]float64, np)
	for s := range np {
		p := &g.people[s]
		if p.n == 0 {
			continue
		}
		var sum float64
		for _, part := range sums {
			sum += part[s]
		}
		mean, ebar := sum/float64(p.n), p.residSum/float64(p.n)
		lbs[s] = mean - ebar - q.eq - slack
		tauP = min(tauP, mean+ebar+q.eq+slack)
	}
	for s := range np {
		if g.people[s].n > 0 && (lbs[s] <= tauP || lbs[s] <= limit) {
			mark[s] = true
		}
	}
	for _, part := range sums {
		putFloats(part)
	}

	// Exact stage: the marked persons' means and the nearest descriptor.
	rmax := g.rmax
	exLimit := intLimit(tauEx + rmax + q.eq)
	exSums := make([][]float64, parts)
	type near struct {
		j    int
		dist float64
	}
	nears := make([]near, parts)
	parallel(n, parts, func(part, lo, hi int) {
		s := floats(np)
		nb := near{-1, math.Inf(1)}
		for j := lo; j < hi; j++ {
			slot := g.slots[j]
			exBound := d2[j] <= exLimit && qStep*math.Sqrt(float64(d2[j]))-float64(g.resid[j])-q.eq <= tauEx
			if !mark[slot] && !exBound {
				continue
			}
			dist := g.exactDist(d, j)
			if mark[slot] {
				s[slot] += dist
			}
			if exBound && (dist < nb.dist || (dist == nb.dist && g.ids[j] < g.ids[nb.j])) {
				nb = near{j, dist}
			}
		}
		exSums[part], nears[part] = s, nb
	})
	var ev evaluation
	ev.bestEx, ev.bestDist = -1, math.Inf(1)
	for _, nb := range nears {
		if nb.j >= 0 && (nb.dist < ev.bestDist || (nb.dist == ev.bestDist && g.ids[nb.j] < g.ids[ev.bestEx])) {
			ev.bestEx, ev.bestDist = nb.j, nb.dist
		}
	}
	ev.best = personMean{slot: -1, mean: math.Inf(1)}
	for s := range np {
		if !mark[s] {
			continue
		}
		var sum float64
		for _, part := range exSums {
			sum += part[s]
		}
		pm := personMean{slot: int32(s), id: g.people[s].id, mean: sum / float64(g.people[s].n)}
		ev.cands = append(ev.cands, pm)
		if pm.mean < ev.best.mean || (pm.mean == ev.best.mean && pm.id < ev.best.id) {
			ev.best = pm
		}
	}
	for _, part := range exSums {
		putFloats(part)
	}
	return ev
}

func (g *Gallery) answer(ev evaluation, pm personMean, known bool) Match {
	m := Match{Distance: float32(pm.mean), Known: known, BestDistance: float32(ev.bestDist)}
	if ev.bestEx >= 0 {
		m.BestExampleID = g.ids[ev.bestEx]
	}
	if known {
		m.PersonID, m.Person = pm.id, g.people[pm.slot].name
	}
	return m
}

func emptyMatch() Match {
	inf := float32(math.Inf(1))
	return Match{Distance: inf, BestDistance: inf}
}

// Match finds the person whose descriptors are nearest on average to d, like face-api.js's
// FaceMatcher: Known only if that mean distance is strictly below threshold.
func (g *Gallery) Match(d [Dim]float32, threshold float32) Match {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if len(g.ids) == 0 {
		return emptyMatch()
	}
	ev := g.evaluate(&d, math.Inf(-1))
	return g.answer(ev, ev.best, ev.best.mean < float64(threshold))
}

// MatchFaces matches all faces of one image, naming each person at most once: the face nearest
// to a person (by mean distance) keeps it, and the others fall back to their next person below
// the threshold, or to unknown (with their best mean distance).
func (g *Gallery) MatchFaces(ds [][Dim]float32, threshold float32) []Match {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]Match, len(ds))
	if len(g.ids) == 0 {
		for i := range out {
			out[i] = emptyMatch()
		}
		return out
	}
	type pair struct {
		face int
		pm   personMean
	}
	evs := make([]evaluation, len(ds))
	var pairs []pair
	for i := range ds {
		evs[i] = g.evaluate(&ds[i], float64(threshold)+slack)
		for _, pm := range evs[i].cands {
			if pm.mean < float64(threshold) {
				pairs = append(pairs, pair{i, pm})
			}
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(a.pm.mean, b.pm.mean); c != 0 {
			return c
		}
		if c := cmp.Compare(a.face, b.face); c != 0 {
			return c
		}
		return cmp.Compare(a.pm.id, b.pm.id)
	})
	assigned := make([]bool, len(ds))
	taken := map[int32]bool{}
	for _, p := range pairs {
		if assigned[p.face] || taken[p.pm.slot] {
			continue
		}
		assigned[p.face], taken[p.pm.slot] = true, true
		out[p.face] = g.answer(evs[p.face], p.pm, true)
	}
	for i := range out {
		if !assigned[i] {
			out[i] = g.answer(evs[i], evs[i].best, false)
		}
	}
	return out
}
