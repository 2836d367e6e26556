package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSubmitImages measures bulk submission of new paths (1000 per call) on each dialect.
func BenchmarkSubmitImages(b *testing.B) {
	for _, d := range []string{DriverSQLite, DriverMySQL} {
		b.Run(d, func(b *testing.B) {
			s := openStore(b, d)
			ctx := context.Background()
			n := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch := make([]NewImage, 1000)
				for j := range batch {
					batch[j] = NewImage{Source: fmt.Sprintf("/bench/cam%03d/snap-%09d.jpg", n%100, n)}
					n++
				}
				if _, err := s.SubmitImages(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "paths/s")
		})
	}
}
