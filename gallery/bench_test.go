package gallery

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/facecluster/facecluster/engine/face"

	"github.com/facecluster/facecluster/internal/testutil"
)

func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		r := rand.New(rand.NewPCG(1, uint64(n)))
		ex := randomGallery(r, n/5, 9) // ≈ n descriptors, 1–9 per person
		ex = ex[:min(n, len(ex))]
		g := New()
		if err := g.Replace(ex); err != nil {
			b.Fatal(err)
		}
		q := near(r, ex[len(ex)/2], 0.02)
		b.Run(fmt.Sprintf("Nearest10/n=%d", len(ex)), func(b *testing.B) {
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				g.Nearest(q, 10)
			}
			report(b, testutil.CPUTime()-cpu0)
		})
		b.Run(fmt.Sprintf("Match/n=%d", len(ex)), func(b *testing.B) {
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				g.Match(q, face.DefaultThreshold)
			}
			report(b, testutil.CPUTime()-cpu0)
		})
	}
}

// report gives the wall time per search and the CPU time per search summed over the scan's
// goroutines (on a shared machine wall time also counts waiting for a core).
func report(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/search")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/search")
	}
}

// BenchmarkGalleryChange compares the two ways a recognizer can take in one enrolment change
// (a person's examples replaced) at large gallery sizes: Replace rebuilds everything from the
// full list (what reloading the whole gallery costs in memory, before any database read), and
// ReplacePeople applies only the changed person.
func BenchmarkGalleryChange(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		r := rand.New(rand.NewPCG(2, uint64(n)))
		ex := randomGallery(r, n/5, 9)
		ex = ex[:min(n, len(ex))]
		g := New()
		if err := g.Replace(ex); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("Replace/n=%d", len(ex)), func(b *testing.B) {
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				if err := g.Replace(ex); err != nil {
					b.Fatal(err)
				}
			}
			reportChange(b, testutil.CPUTime()-cpu0)
		})
		// One person (the middle one) gets a new example, then loses it again.
		p := ex[len(ex)/2].PersonID
		var mine []Example
		for _, e := range ex {
			if e.PersonID == p {
				mine = append(mine, e)
			}
		}
		extra := Example{ID: ex[len(ex)-1].ID + 1, PersonID: p, Person: mine[0].Person, Descriptor: near(r, mine[0], 0.02)}
		withExtra := append(append([]Example(nil), mine...), extra)
		b.Run(fmt.Sprintf("ReplacePeople/n=%d", len(ex)), func(b *testing.B) {
			cpu0 := testutil.CPUTime()
			i := 0
			for b.Loop() {
				set := mine
				if i%2 == 0 {
					set = withExtra
				}
				i++
				if err := g.ReplacePeople([]int64{p}, set); err != nil {
					b.Fatal(err)
				}
			}
			reportChange(b, testutil.CPUTime()-cpu0)
		})
	}
}

func reportChange(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/change")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/change")
	}
}
