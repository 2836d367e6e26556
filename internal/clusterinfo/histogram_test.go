package clusterinfo_test

import (
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/clusterinfo"
)

// TestProcessingQuantilesFromHistograms: quantiles interpolate inside their bucket, as
// Prometheus's histogram_quantile does, over the sum of several processors' histograms.
func TestProcessingQuantilesFromHistograms(t *testing.T) {
	bounds := []float64{0.1, 0.5, 1}
	var h clusterinfo.Histogram
	h.Add(clusterinfo.Histogram{Bounds: bounds, Counts: []uint64{0, 6, 6}, Total: 6})
	h.Add(clusterinfo.Histogram{Bounds: bounds, Counts: []uint64{0, 4, 4}, Total: 4})
	h.Add(clusterinfo.Histogram{Bounds: []float64{1, 2}, Counts: []uint64{9, 9}, Total: 9}) // other bounds: left out
	if h.Total != 10 {
		t.Fatalf("summed %d observations, want 10", h.Total)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 300 * time.Millisecond}, {0.95, 480 * time.Millisecond}} {
		if got := h.Quantile(tt.q).Round(time.Millisecond); got != tt.want {
			t.Errorf("q%.2f = %s, want %s", tt.q, got, tt.want)
		}
	}
}
