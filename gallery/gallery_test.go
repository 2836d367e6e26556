package gallery

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/facecluster/facecluster/engine/face"
)

// randomGallery returns examples of persons whose descriptors scatter around a per-person centre,
// with the spread of real descriptors (components ≈ ±0.13, distances ≈ 0.3–1.2).
func randomGallery(r *rand.Rand, persons, perPerson int) []Example {
	var out []Example
	id := int64(1)
	for p := range persons {
		var centre [Dim]float32
		for i := range centre {
			centre[i] = float32(r.NormFloat64() * 0.09)
		}
		for range 1 + r.IntN(perPerson) {
			e := Example{ID: id, PersonID: int64(p + 1), Person: fmt.Sprintf("person%d", p+1)}
			for i := range e.Descriptor {
				e.Descriptor[i] = centre[i] + float32(r.NormFloat64()*0.04)
			}
			out = append(out, e)
			id++
		}
	}
	return out
}

func near(r *rand.Rand, e Example, spread float64) [Dim]float32 {
	d := e.Descriptor
	for i := range d {
		d[i] += float32(r.NormFloat64() * spread)
	}
	return d
}

// refDist is the brute-force float64 reference distance.
func refDist(a, b *[Dim]float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

func refNearest(ex []Example, q [Dim]float32, k int) []Neighbor {
	type ranked struct {
		nb   Neighbor
		dist float64
	}
	all := make([]ranked, len(ex))
	for i, e := range ex {
		d := refDist(&q, &e.Descriptor)
		all[i] = ranked{Neighbor{ExampleID: e.ID, PersonID: e.PersonID, Person: e.Person, Distance: float32(d)}, d}
	}
	slices.SortFunc(all, func(a, b ranked) int {
		if c := cmp.Compare(a.dist, b.dist); c != 0 {
			return c
		}
		return cmp.Compare(a.nb.ExampleID, b.nb.ExampleID)
	})
	out := make([]Neighbor, min(k, len(all)))
	for i := range out {
		out[i] = all[i].nb
	}
	return out
}

// refMatch is face-api.js's FaceMatcher on float64, plus the nearest single example.
func refMatch(ex []Example, q [Dim]float32, threshold float32) Match {
	if len(ex) == 0 {
		return emptyMatch()
	}
	sum, n, names := map[int64]float64{}, map[int64]int{}, map[int64]string{}
	m := Match{BestDistance: float32(math.Inf(1))}
	bestEx := math.Inf(1)
	for _, e := range ex {
		d := refDist(&q, &e.Descriptor)
		sum[e.PersonID] += d
		n[e.PersonID]++
		names[e.PersonID] = e.Person
		if d < bestEx || (d == bestEx && e.ID < m.BestExampleID) {
			bestEx, m.BestExampleID, m.BestDistance = d, e.ID, float32(d)
		}
	}
	best, bestID := math.Inf(1), int64(0)
	for id, s := range sum {
		mean := s / float64(n[id])
		if mean < best || (mean == best && id < bestID) {
			best, bestID = mean, id
		}
	}
	m.Distance = float32(best)
	if best < float64(threshold) {
		m.Known, m.PersonID, m.Person = true, bestID, names[bestID]
	}
	return m
}

// bothScans runs f with the assembly scan (where available) and the portable one.
func bothScans(t *testing.T, f func(t *testing.T)) {
	saved := useAsm
	defer func() { useAsm = saved }()
	for _, asm := range []bool{true, false} {
		if asm && !saved {
			continue
		}
		useAsm = asm
		t.Run(fmt.Sprintf("asm=%v", asm), f)
	}
}

func TestNearestMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// 40k descriptors: above the size at which the scan is split over goroutines.
	ex := randomGallery(r, 8000, 9)
	g := New()
	if err := g.Replace(ex); err != nil {
		t.Fatal(err)
	}
	bothScans(t, func(t *testing.T) {
		for trial := range 10 {
			q := near(r, ex[r.IntN(len(ex))], 0.03*float64(trial%4))
			if trial%5 == 4 { // a stranger
				q = randomGallery(r, 1, 1)[0].Descriptor
			}
			want50 := refNearest(ex, q, 50)
			for _, k := range []int{1, 5, 50} {
				got, want := g.Nearest(q, k), want50[:k]
				if !slices.Equal(got, want) {
					t.Fatalf("trial %d k=%d:\n got %v\nwant %v", trial, k, got, want)
				}
			}
			if got, want := g.Match(q, face.DefaultThreshold), refMatch(ex, q, face.DefaultThreshold); got != want {
				t.Fatalf("trial %d Match:\n got %+v\nwant %+v", trial, got, want)
			}
		}
	})
}

func TestOutOfRangeComponentsStayExact(t *testing.T) {
	// Components beyond the int8 range are clamped; the error bound must still hold.
	r := rand.New(rand.NewPCG(3, 4))
	ex := randomGallery(r, 300, 4)
	for i := range ex {
		if i%3 == 0 {
			ex[i].Descriptor[i%Dim] = float32(3 * (r.Float64() - 0.5) * 4)
		}
	}
	g := New()
	if err := g.Replace(ex); err != nil {
		t.Fatal(err)
	}
	for trial := range 20 {
		q := near(r, ex[r.IntN(len(ex))], 0.05)
		q[trial] = 2.5
		if got, want := g.Nearest(q, 3), refNearest(ex, q, 3); !slices.Equal(got, want) {
			t.Fatalf("trial %d: got %v want %v", trial, got, want)
		}
		if got, want := g.Match(q, 0.9), refMatch(ex, q, 0.9); got != want {
			t.Fatalf("trial %d Match: got %+v want %+v", trial, got, want)
		}
	}
}

func TestTies(t *testing.T) {
	var d [Dim]float32
	d[0] = 0.1
	ex := []Example{
		{ID: 7, PersonID: 2, Person: "bob", Descriptor: d},
		{ID: 3, PersonID: 1, Person: "ann", Descriptor: d},
		{ID: 5, PersonID: 2, Person: "bob", Descriptor: d},
	}
	g := New()
	if err := g.Replace(ex); err != nil {
		t.Fatal(err)
	}
	got := g.Nearest(d, 3)
	if ids := []int64{got[0].ExampleID, got[1].ExampleID, got[2].ExampleID}; !slices.Equal(ids, []int64{3, 5, 7}) {
		t.Fatalf("equal distances not ordered by example ID: %v", got)
	}
	// Equal means: the smaller person ID wins; the best example is the smallest ID.
	m := g.Match(d, face.DefaultThreshold)
	if !m.Known || m.PersonID != 1 || m.Person != "ann" || m.Distance != 0 || m.BestExampleID != 3 {
		t.Fatalf("tie Match = %+v, want ann (person 1), example 3, distance 0", m)
	}
	// A mean exactly at the threshold is not a match (strictly below).
	var far [Dim]float32
	far[0] = 0.1 + 0.5
	if m := g.Match(far, 0.5); m.Known || m.Distance != 0.5 {
		t.Fatalf("distance equal to the threshold matched: %+v", m)
	}
}

func TestEmptyGallery(t *testing.T) {
	g := New()
	var d [Dim]float32
	if got := g.Nearest(d, 5); len(got) != 0 {
		t.Fatalf("Nearest on empty gallery = %v", got)
	}
	m := g.Match(d, face.DefaultThreshold)
	if m.Known || !math.IsInf(float64(m.Distance), 1) || m.BestExampleID != 0 {
		t.Fatalf("Match on empty gallery = %+v", m)
	}
	ms := g.MatchFaces([][Dim]float32{d, d}, face.DefaultThreshold)
	if len(ms) != 2 || ms[0].Known || ms[1].Known {
		t.Fatalf("MatchFaces on empty gallery = %+v", ms)
	}
	if g.Len() != 0 || g.People() != 0 {
		t.Fatalf("empty gallery has Len %d People %d", g.Len(), g.People())
	}
}

func TestRemoval(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ex := randomGallery(r, 50, 5)
	g := New()
	if err := g.Replace(ex); err != nil {
		t.Fatal(err)
	}
	target := ex[10]
	q := near(r, target, 0.01)
	if m := g.Match(q, face.DefaultThreshold); !m.Known || m.PersonID != target.PersonID {
		t.Fatalf("before removal: %+v, want person %d", m, target.PersonID)
	}
	var count int
	var rest []Example
	for _, e := range ex {
		if e.PersonID == target.PersonID {
			count++
		} else {
			rest = append(rest, e)
		}
	}
	if !g.HasPerson(target.PersonID) {
		t.Fatalf("HasPerson(%d) = false before removal", target.PersonID)
	}
	if n := g.RemovePerson(target.PersonID); n != count {
		t.Fatalf("RemovePerson removed %d, want %d", n, count)
	}
	if g.HasPerson(target.PersonID) {
		t.Fatalf("HasPerson(%d) = true after RemovePerson", target.PersonID)
	}
	if g.RemovePerson(target.PersonID) != 0 {
		t.Fatal("second RemovePerson removed something")
	}
	if g.Len() != len(rest) || g.People() != 49 {
		t.Fatalf("after removal Len %d People %d, want %d and 49", g.Len(), g.People(), len(rest))
	}
	if got, want := g.Match(q, face.DefaultThreshold), refMatch(rest, q, face.DefaultThreshold); got != want {
		t.Fatalf("after RemovePerson: got %+v want %+v", got, want)
	}
	// Remove single examples (first, middle, last) and re-add one.
	for _, id := range []int64{rest[0].ID, rest[len(rest)/2].ID, rest[len(rest)-1].ID} {
		if !g.RemoveExample(id) {
			t.Fatalf("RemoveExample(%d) = false", id)
		}
		rest = slices.DeleteFunc(rest, func(e Example) bool { return e.ID == id })
	}
	if g.RemoveExample(rest[0].ID + 1e9) {
		t.Fatal("RemoveExample of an unknown id reported true")
	}
	if err := g.Add(target); err != nil {
		t.Fatal(err)
	}
	rest = append(rest, target)
	for _, k := range []int{1, 10, len(rest) + 5} {
		if got, want := g.Nearest(q, k), refNearest(rest, q, k); !slices.Equal(got, want) {
			t.Fatalf("k=%d after removals: got %v want %v", k, got, want)
		}
	}
	if got, want := g.Match(q, face.DefaultThreshold), refMatch(rest, q, face.DefaultThreshold); got != want {
		t.Fatalf("after re-adding: got %+v want %+v", got, want)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ex := randomGallery(r, 10, 3)
	g := New()
	if err := g.Replace(ex); err != nil {
		t.Fatal(err)
	}
	n := g.Len()
	nan := Example{ID: 1000, PersonID: 1}
	nan.Descriptor[5] = float32(math.NaN())
	ok := Example{ID: 1001, PersonID: 1}
	if err := g.Add(ok, nan); !errors.Is(err, ErrInvalidDescriptor) {
		t.Fatalf("Add with NaN: err = %v", err)
	}
	if err := g.Add(Example{ID: ex[0].ID, PersonID: 3}); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("Add of an existing id: err = %v", err)
	}
	if err := g.Replace([]Example{ok, ok}); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("Replace with a repeated id: err = %v", err)
	}
	if g.Len() != n {
		t.Fatalf("failed calls changed the gallery: Len %d, want %d", g.Len(), n)
	}
}

func TestMatchFacesNamesAPersonOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	ex := randomGallery(r, 40, 4)
	g := New()
	if err := g.Replace(ex); err != nil {
		t.Fatal(err)
	}
	var ann, bob Example
	for _, e := range ex {
		switch e.PersonID {
		case 1:
			ann = e
		case 2:
			bob = e
		}
	}
	annMean := func(d [Dim]float32) float64 {
		var s float64
		var n int
		for _, e := range ex {
			if e.PersonID == 1 {
				s += refDist(&d, &e.Descriptor)
				n++
			}
		}
		return s / float64(n)
	}
	closer, farther := near(r, ann, 0.005), near(r, ann, 0.02)
	if annMean(closer) > annMean(farther) {
		closer, farther = farther, closer
	}
	faces := [][Dim]float32{farther, near(r, bob, 0.005), closer}
	got := g.MatchFaces(faces, face.DefaultThreshold)
	if !got[2].Known || got[2].PersonID != 1 {
		t.Fatalf("the face nearest to person 1 did not keep it: %+v", got[2])
	}
	if !got[1].Known || got[1].PersonID != 2 {
		t.Fatalf("bob's face: %+v", got[1])
	}
	if got[0].Known && got[0].PersonID == 1 {
		t.Fatalf("person 1 named twice: %+v", got)
	}
	// The displaced face falls to its next choice below the threshold, or unknown: compare with
	// the reference means excluding persons 1 and 2.
	var others []Example
	for _, e := range ex {
		if e.PersonID != 1 && e.PersonID != 2 {
			others = append(others, e)
		}
	}
	want := refMatch(others, farther, face.DefaultThreshold)
	if got[0].Known != want.Known || (want.Known && got[0].PersonID != want.PersonID) {
		t.Fatalf("displaced face = %+v, want next choice %+v", got[0], want)
	}
	// Each face alone matches as Match does.
	for i, f := range faces {
		if one := g.MatchFaces([][Dim]float32{f}, face.DefaultThreshold)[0]; one != g.Match(f, face.DefaultThreshold) {
			t.Fatalf("face %d: MatchFaces alone %+v != Match %+v", i, one, g.Match(f, face.DefaultThreshold))
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	ex := randomGallery(r, 200, 5)
	g := New()
	if err := g.Replace(ex); err != nil {
		t.Fatal(err)
	}
	extra := randomGallery(rand.New(rand.NewPCG(13, 14)), 20, 3)
	for i := range extra {
		extra[i].ID += 1e6
		extra[i].PersonID += 1e6
	}
	var wg sync.WaitGroup
	for w := range 4 {
		q := near(r, ex[w*37], 0.01)
		wg.Go(func() {
			for range 50 {
				if m := g.Match(q, face.DefaultThreshold); !m.Known {
					t.Errorf("reader %d: %+v", w, m)
					return
				}
				g.Nearest(q, 3)
			}
		})
	}
	wg.Go(func() {
		for _, e := range extra {
			if err := g.Add(e); err != nil {
				t.Error(err)
			}
		}
		for _, e := range extra {
			g.RemovePerson(e.PersonID)
		}
	})
	wg.Wait()
	if g.Len() != len(ex) {
		t.Fatalf("Len %d after adding and removing, want %d", g.Len(), len(ex))
	}
}

// TestReplacePeopleEqualsAFullReplace applies the kinds of change a recognizer sees (an example
// added, one removed, a person renamed, deleted, two merged, a new person) with ReplacePeople
// and checks every search against a gallery built from scratch with the same content.
func TestReplacePeopleEqualsAFullReplace(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	ex := randomGallery(r, 60, 6)
	g := New()
	if err := g.Replace(ex); err != nil {
		t.Fatal(err)
	}
	byPerson := map[int64][]Example{}
	for _, e := range ex {
		byPerson[e.PersonID] = append(byPerson[e.PersonID], e)
	}
	nextID := ex[len(ex)-1].ID + 1
	apply := func(what string, people ...int64) {
		t.Helper()
		var changed []Example
		for _, p := range people {
			changed = append(changed, byPerson[p]...)
		}
		if err := g.ReplacePeople(people, changed); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var all []Example
		for _, es := range byPerson {
			all = append(all, es...)
		}
		if g.Len() != len(all) {
			t.Fatalf("%s: Len %d, want %d", what, g.Len(), len(all))
		}
		for i := 0; i < 20; i++ {
			q := near(r, ex[r.IntN(len(ex))], 0.03)
			if got, want := g.Nearest(q, 5), refNearest(all, q, 5); !slices.Equal(got, want) {
				t.Fatalf("%s: Nearest got %v want %v", what, got, want)
			}
			if got, want := g.Match(q, face.DefaultThreshold), refMatch(all, q, face.DefaultThreshold); got != want {
				t.Fatalf("%s: Match got %+v want %+v", what, got, want)
			}
		}
	}
	// An example added to person 3.
	e := Example{ID: nextID, PersonID: 3, Person: "person3", Descriptor: near(r, byPerson[3][0], 0.02)}
	nextID++
	byPerson[3] = append(byPerson[3], e)
	apply("add an example", 3)
	// One of person 7's examples removed (the person stays when they have others).
	byPerson[7] = append(byPerson[7][:0:0], byPerson[7][1:]...)
	if len(byPerson[7]) == 0 {
		delete(byPerson, 7)
	}
	apply("remove an example", 7)
	// Person 9 renamed.
	for i := range byPerson[9] {
		byPerson[9][i].Person = "nine"
	}
	apply("rename", 9)
	// Person 12 deleted.
	delete(byPerson, 12)
	apply("delete a person", 12)
	// Person 20 merged into 21: same example IDs, now 21's.
	for _, e := range byPerson[20] {
		e.PersonID, e.Person = 21, "person21"
		byPerson[21] = append(byPerson[21], e)
	}
	delete(byPerson, 20)
	apply("merge", 21, 20)
	// A new person, and a person the gallery never had who has no examples.
	byPerson[500] = []Example{{ID: nextID, PersonID: 500, Person: "new", Descriptor: near(r, ex[0], 0.3)}}
	apply("new person", 500, 501)

	// Refused changes leave the gallery as it was.
	n := g.Len()
	if err := g.ReplacePeople([]int64{4}, []Example{{ID: byPerson[5][0].ID, PersonID: 4}}); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("taking another person's example id: %v", err)
	}
	if err := g.ReplacePeople([]int64{4}, []Example{{ID: nextID + 1, PersonID: 5}}); err == nil {
		t.Fatal("an example of a person not replaced was accepted")
	}
	if g.Len() != n {
		t.Fatalf("refused changes changed the gallery: Len %d, want %d", g.Len(), n)
	}
}

// TestLoaderEqualsReplace: a gallery built example by example with a Loader (as a streamed
// database load does) holds the same examples and gives the same answers as Replace, and the
// Loader refuses what Replace refuses.
func TestLoaderEqualsReplace(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	ex := randomGallery(r, 300, 5)
	want := New()
	if err := want.Replace(ex); err != nil {
		t.Fatal(err)
	}
	l := NewLoader(len(ex) / 2) // too small on purpose: the arrays grow
	buf := make([]byte, 0, 64)
	for i := range ex {
		buf = append(buf[:0], ex[i].Person...) // a reused buffer, as a database cursor gives
		if err := l.Append(ex[i].ID, ex[i].PersonID, buf, &ex[i].Descriptor); err != nil {
			t.Fatal(err)
		}
	}
	if l.Len() != len(ex) {
		t.Fatalf("Len %d, want %d", l.Len(), len(ex))
	}
	got := New()
	got.Load(l)
	if got.Len() != want.Len() || got.People() != want.People() {
		t.Fatalf("%d examples of %d people, want %d of %d", got.Len(), got.People(), want.Len(), want.People())
	}
	sortByID := func(s []Example) []Example {
		slices.SortFunc(s, func(a, b Example) int { return cmp.Compare(a.ID, b.ID) })
		return s
	}
	if !slices.Equal(sortByID(got.Examples()), sortByID(want.Examples())) {
		t.Fatal("the examples differ")
	}
	for i := 0; i < 200; i++ {
		q := near(r, ex[r.IntN(len(ex))], 0.05)
		if g, w := got.Match(q, face.DefaultThreshold), want.Match(q, face.DefaultThreshold); g != w {
			t.Fatalf("Match: %+v, want %+v", g, w)
		}
		if g, w := got.Nearest(q, 5), want.Nearest(q, 5); !slices.Equal(g, w) {
			t.Fatalf("Nearest: %+v, want %+v", g, w)
		}
	}
	// Enrolments after a load append as after Replace.
	extra := randomGallery(rand.New(rand.NewPCG(8, 8)), 3, 2)
	for i := range extra {
		extra[i].ID += 1_000_000
	}
	if err := got.Add(extra...); err != nil {
		t.Fatal(err)
	}

	l = NewLoader(2)
	if err := l.Append(1, 1, []byte("a"), &ex[0].Descriptor); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(1, 2, []byte("b"), &ex[1].Descriptor); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("repeated id: %v", err)
	}
	bad := ex[2].Descriptor
	bad[3] = float32(math.NaN())
	if err := l.Append(2, 2, []byte("b"), &bad); !errors.Is(err, ErrInvalidDescriptor) {
		t.Fatalf("NaN: %v", err)
	}
	if l.Len() != 1 {
		t.Fatalf("a refused example was added: Len %d", l.Len())
	}
}
