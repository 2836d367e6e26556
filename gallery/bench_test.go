package gallery

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

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
				g.Match(q, DefaultThreshold)
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
