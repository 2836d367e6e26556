package gallery

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Dim is the length of a face descriptor.
const Dim = 128

// qStep is the int8 quantisation step; ±127 steps cover ±0.567, beyond the largest component
// seen in face-api.js descriptors (≈0.53). Larger values are clamped, which only widens that
// descriptor's error bound.
const qStep = 1.0 / 224

// Example is one enrolled descriptor of a person.
type Example struct {
	ID, PersonID int64
	Person       string
	Descriptor   [Dim]float32
}

// Match is the answer for one face.
type Match struct {
	PersonID int64  // 0 when unknown
	Person   string // "" when unknown
	// Distance is the mean distance to the best person's descriptors (to the matched person's
	// when Known); +Inf for an empty gallery.
	Distance float32
	Known    bool
	// BestExampleID and BestDistance are the single nearest descriptor in the gallery.
	BestExampleID int64
	BestDistance  float32
}

// Neighbor is one result of Nearest.
type Neighbor struct {
	ExampleID, PersonID int64
	Person              string
	Distance            float32
}

var (
	// ErrDuplicateID is returned when an example ID is already in the gallery or repeated.
	ErrDuplicateID = errors.New("duplicate example id")
	// ErrInvalidDescriptor is returned for a descriptor holding NaN or ±Inf.
	ErrInvalidDescriptor = errors.New("descriptor has a non-finite value")
)

type person struct {
	id       int64
	name     string
	n        int     // examples; 0 marks a free slot
	residSum float64 // Σ quantisation error norms, for the mean-distance bounds
}

// Gallery is the in-memory set of enrolled descriptors. The zero value is not usable: call New.
type Gallery struct {
	mu     sync.RWMutex
	ids    []int64   // per example
	slots  []int32   // per example: index into persons
	exact  []float32 // Dim per example
	quant  []int8    // Dim per example
	resid  []float32 // per example: ‖x − qStep·quant‖, rounded up
	rmax   float64   // ≥ every resid (not lowered on removal: an upper bound is enough)
	index  map[int64]int
	people []person
	slotOf map[int64]int32
	free   []int32
	gen    uint64 // bumped by every change (reserve checks nothing changed while it copied)
}

// New returns an empty gallery.
func New() *Gallery {
	return &Gallery{index: map[int64]int{}, slotOf: map[int64]int32{}}
}

// Len returns the number of enrolled descriptors.
func (g *Gallery) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.ids)
}

// People returns the number of persons with at least one descriptor.
func (g *Gallery) People() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.slotOf)
}

// HasPerson reports whether the person has at least one descriptor in the gallery.
func (g *Gallery) HasPerson(personID int64) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.slotOf[personID]
	return ok
}

func validate(examples []Example, existing map[int64]int) error {
	seen := make(map[int64]struct{}, len(examples))
	for i := range examples {
		e := &examples[i]
		if _, dup := seen[e.ID]; dup {
			return fmt.Errorf("gallery: example %d: %w", e.ID, ErrDuplicateID)
		}
		if _, dup := existing[e.ID]; dup {
			return fmt.Errorf("gallery: example %d: %w", e.ID, ErrDuplicateID)
		}
		seen[e.ID] = struct{}{}
		for _, v := range e.Descriptor {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("gallery: example %d of person %d: %w", e.ID, e.PersonID, ErrInvalidDescriptor)
			}
		}
	}
	return nil
}

// Replace swaps the whole content for examples (all or nothing: on error nothing changes).
func (g *Gallery) Replace(examples []Example) error {
	if err := validate(examples, nil); err != nil {
		return err
	}
	l := NewLoader(len(examples))
	l.g.appendAll(examples)
	g.Load(l)
	return nil
}

// headroom is the spare room (in examples) Replace leaves and growth adds, so that the
// enrolments that follow a load append in place instead of copying the whole gallery.
func headroom(n int) int { return n/16 + 1024 }

// allocate gives g empty per-example arrays with room for capacity examples (n is unused but
// documents the expected length).
func (g *Gallery) allocate(_ int, capacity int) {
	g.ids = make([]int64, 0, capacity)
	g.slots = make([]int32, 0, capacity)
	g.resid = make([]float32, 0, capacity)
	g.exact = make([]float32, 0, capacity*Dim)
	g.quant = make([]int8, 0, capacity*Dim)
}

// reserve makes room for add more examples. Copying a large gallery into bigger arrays takes a
// while, so it happens under the read lock (searches go on) and the copies are swapped in
// under the write lock only if nothing changed meanwhile (else the append that follows grows
// the arrays itself).
func (g *Gallery) reserve(add int) {
	g.mu.RLock()
	n := len(g.ids)
	if cap(g.ids)-n >= add && cap(g.slots)-n >= add && cap(g.resid)-n >= add &&
		cap(g.exact)-len(g.exact) >= add*Dim && cap(g.quant)-len(g.quant) >= add*Dim {
		g.mu.RUnlock()
		return
	}
	bigger := &Gallery{}
	bigger.allocate(n, n+add+headroom(n+add))
	bigger.ids = append(bigger.ids, g.ids...)
	bigger.slots = append(bigger.slots, g.slots...)
	bigger.resid = append(bigger.resid, g.resid...)
	bigger.exact = append(bigger.exact, g.exact...)
	bigger.quant = append(bigger.quant, g.quant...)
	gen := g.gen
	g.mu.RUnlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gen == gen {
		g.ids, g.slots, g.resid, g.exact, g.quant = bigger.ids, bigger.slots, bigger.resid, bigger.exact, bigger.quant
	}
}

// Add enrols examples (all or nothing: on error nothing changes).
func (g *Gallery) Add(examples ...Example) error {
	g.reserve(len(examples))
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := validate(examples, g.index); err != nil {
		return err
	}
	g.appendAll(examples)
	return nil
}

func (g *Gallery) appendAll(examples []Example) {
	g.gen++
	g.exact = slices.Grow(g.exact, len(examples)*Dim)
	g.quant = slices.Grow(g.quant, len(examples)*Dim)
	for i := range examples {
		e := &examples[i]
		g.appendOne(e.ID, e.PersonID, &e.Descriptor).name = e.Person
	}
}

// appendOne appends one example (already validated) and returns its person, whose name the
// caller sets.
func (g *Gallery) appendOne(id, personID int64, d *[Dim]float32) *person {
	slot, ok := g.slotOf[personID]
	if !ok {
		if k := len(g.free); k > 0 {
			slot, g.free = g.free[k-1], g.free[:k-1]
		} else {
			slot = int32(len(g.people))
			g.people = append(g.people, person{})
		}
		g.people[slot] = person{id: personID}
		g.slotOf[personID] = slot
	}
	p := &g.people[slot]
	var q [Dim]int8
	r := quantize(d, &q)
	p.n++
	p.residSum += float64(r)
	g.index[id] = len(g.ids)
	g.ids = append(g.ids, id)
	g.slots = append(g.slots, slot)
	g.exact = append(g.exact, d[:]...)
	g.quant = append(g.quant, q[:]...)
	g.resid = append(g.resid, r)
	g.rmax = max(g.rmax, float64(r))
	return p
}

// Loader builds a whole new gallery content one example at a time, straight into the arrays
// the gallery then searches: a full load streams database rows into it without holding a list
// of every example. Load installs the result. A Loader is not safe for concurrent use.
type Loader struct {
	g *Gallery
}

// NewLoader returns a Loader sized for about expected examples (more still fit: the arrays
// grow), with the same headroom Replace leaves for the enrolments that follow.
func NewLoader(expected int) *Loader {
	expected = max(expected, 0)
	g := &Gallery{index: make(map[int64]int, expected), slotOf: map[int64]int32{}}
	g.allocate(expected, expected+headroom(expected))
	return &Loader{g: g}
}

// Append adds one example. name is copied only when it differs from the name the person
// already has in the loader (so a name read into a reused buffer costs no allocation per row);
// the last name given for a person wins, as in Replace. On error (a repeated example ID, a
// non-finite value) nothing is added.
func (l *Loader) Append(id, personID int64, name []byte, d *[Dim]float32) error {
	if _, dup := l.g.index[id]; dup {
		return fmt.Errorf("gallery: example %d: %w", id, ErrDuplicateID)
	}
	for _, v := range d {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("gallery: example %d of person %d: %w", id, personID, ErrInvalidDescriptor)
		}
	}
	if p := l.g.appendOne(id, personID, d); p.name != string(name) {
		p.name = string(name)
	}
	return nil
}

// Len is the number of examples appended so far.
func (l *Loader) Len() int { return len(l.g.ids) }

// Load swaps the whole content of g for what l built (like Replace). l must not be used
// afterwards.
func (g *Gallery) Load(l *Loader) {
	fresh := l.g
	l.g = nil
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ids, g.slots, g.exact, g.quant, g.resid = fresh.ids, fresh.slots, fresh.exact, fresh.quant, fresh.resid
	g.index, g.people, g.slotOf, g.free = fresh.index, fresh.people, fresh.slotOf, fresh.free
	g.rmax = fresh.rmax
	g.gen++
}

// Examples returns a copy of every example, in no particular order (for tests and tools: it
// copies the whole gallery).
func (g *Gallery) Examples() []Example {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]Example, len(g.ids))
	for i, id := range g.ids {
		p := &g.people[g.slots[i]]
		out[i] = Example{ID: id, PersonID: p.id, Person: p.name}
		copy(out[i].Descriptor[:], g.exact[i*Dim:(i+1)*Dim])
	}
	return out
}

// quantize rounds x to int8 steps and returns the norm of the rounding error, rounded up so
// that the search bounds stay safe.
func quantize(x *[Dim]float32, q *[Dim]int8) float32 {
	var e float64
	for i, v := range x {
		k := math.Round(float64(v) / qStep)
		k = max(-127, min(127, k))
		q[i] = int8(k)
		d := float64(v) - k*qStep
		e += d * d
	}
	return math.Nextafter32(float32(math.Sqrt(e)), float32(math.Inf(1)))
}

// RemoveExample removes one example; it reports whether it was there.
func (g *Gallery) RemoveExample(id int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i, ok := g.index[id]
	if !ok {
		return false
	}
	g.removeAt(i)
	return true
}

// dropPerson takes example i out of its person's counts.
func (g *Gallery) dropPerson(i int) {
	s := g.slots[i]
	p := &g.people[s]
	p.n--
	p.residSum -= float64(g.resid[i])
	if p.n == 0 {
		delete(g.slotOf, p.id)
		*p = person{}
		g.free = append(g.free, s)
	}
}

func (g *Gallery) truncate(n int) {
	g.gen++
	g.ids, g.slots, g.resid = g.ids[:n], g.slots[:n], g.resid[:n]
	g.exact, g.quant = g.exact[:n*Dim], g.quant[:n*Dim]
}

// RemovePerson removes all examples of a person and returns how many there were.
func (g *Gallery) RemovePerson(personID int64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	slot, ok := g.slotOf[personID]
	if !ok {
		return 0
	}
	removed := g.people[slot].n
	w := 0
	for i, id := range g.ids {
		if g.slots[i] == slot {
			delete(g.index, id)
			continue
		}
		if w != i {
			g.ids[w], g.slots[w], g.resid[w] = id, g.slots[i], g.resid[i]
			copy(g.exact[w*Dim:(w+1)*Dim], g.exact[i*Dim:(i+1)*Dim])
			copy(g.quant[w*Dim:(w+1)*Dim], g.quant[i*Dim:(i+1)*Dim])
			g.index[id] = w
		}
		w++
	}
	g.truncate(w)
	delete(g.slotOf, personID)
	g.people[slot] = person{}
	g.free = append(g.free, slot)
	return removed
}

// ReplacePeople makes the listed persons' examples exactly those of examples (each of which
// must belong to one of them): a person given no example leaves the gallery. It is what a
// recognizer applies for the people an enrolment change touched, at a cost that grows with the
// examples changed plus one pass over a 4-byte-per-example slot array, not with a full reload.
// All or nothing: on error nothing changes.
func (g *Gallery) ReplacePeople(personIDs []int64, examples []Example) error {
	changed := make(map[int64]bool, len(personIDs))
	for _, id := range personIDs {
		changed[id] = true
	}
	for i := range examples {
		if !changed[examples[i].PersonID] {
			return fmt.Errorf("gallery: example %d belongs to person %d, who is not among those replaced", examples[i].ID, examples[i].PersonID)
		}
	}
	g.reserve(len(examples))
	g.mu.Lock()
	defer g.mu.Unlock()
	// An example ID may stay (a person renamed) or move between replaced persons (merged), but
	// must not clash with one of a person left alone.
	for i := range examples {
		if j, ok := g.index[examples[i].ID]; ok && !changed[g.people[g.slots[j]].id] {
			return fmt.Errorf("gallery: example %d: %w", examples[i].ID, ErrDuplicateID)
		}
	}
	if err := validate(examples, nil); err != nil {
		return err
	}
	var drop []int
	if len(changed) > 0 {
		slotChanged := make([]bool, len(g.people))
		present := false
		for id := range changed {
			if s, ok := g.slotOf[id]; ok {
				slotChanged[s], present = true, true
			}
		}
		if present {
			for i, s := range g.slots {
				if slotChanged[s] {
					drop = append(drop, i)
				}
			}
		}
	}
	// Highest index first: the last element swapped into a hole is never one still to drop.
	for k := len(drop) - 1; k >= 0; k-- {
		g.removeAt(drop[k])
	}
	g.appendAll(examples)
	return nil
}

// removeAt removes the example at index i, moving the last one into its place.
func (g *Gallery) removeAt(i int) {
	id := g.ids[i]
	g.dropPerson(i)
	last := len(g.ids) - 1
	if i != last {
		g.ids[i], g.slots[i], g.resid[i] = g.ids[last], g.slots[last], g.resid[last]
		copy(g.exact[i*Dim:(i+1)*Dim], g.exact[last*Dim:])
		copy(g.quant[i*Dim:(i+1)*Dim], g.quant[last*Dim:])
		g.index[g.ids[i]] = i
	}
	delete(g.index, id)
	g.truncate(last)
}
