package clusterinfo

import (
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/facecluster/facecluster/processor"
)

// Histogram is a cumulative Prometheus histogram: counts of observations ≤ each bound.
type Histogram struct {
	Bounds []float64 // seconds, ascending, +Inf excluded
	Counts []uint64  // cumulative, len(Bounds)
	Total  uint64
}

// ProcessingHistogram sums processor.MetricProcessingSeconds over its outcome labels.
func ProcessingHistogram(families map[string]*dto.MetricFamily) Histogram {
	var h Histogram
	f, ok := families[processor.MetricProcessingSeconds]
	if !ok {
		return h
	}
	for _, m := range f.GetMetric() {
		ph := m.GetHistogram()
		if ph == nil {
			continue
		}
		one := Histogram{Total: ph.GetSampleCount()}
		for _, b := range ph.GetBucket() {
			if math.IsInf(b.GetUpperBound(), 1) {
				continue
			}
			one.Bounds = append(one.Bounds, b.GetUpperBound())
			one.Counts = append(one.Counts, b.GetCumulativeCount())
		}
		h.Add(one)
	}
	return h
}

// GatherProcessing is ProcessingHistogram of this process's own registry.
func GatherProcessing(g prometheus.Gatherer) Histogram {
	families, err := g.Gather()
	if err != nil {
		return Histogram{}
	}
	byName := make(map[string]*dto.MetricFamily, len(families))
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return ProcessingHistogram(byName)
}

// Add sums o into h; histograms with other bounds than h's are left out (every facecluster
// process uses the same, metrics.LatencyBuckets).
func (h *Histogram) Add(o Histogram) {
	if o.Total == 0 {
		return
	}
	if h.Total == 0 && len(h.Bounds) == 0 {
		h.Bounds, h.Counts = slices.Clone(o.Bounds), make([]uint64, len(o.Bounds))
	}
	if !slices.Equal(h.Bounds, o.Bounds) {
		return
	}
	for i := range o.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Total += o.Total
}

// Quantile estimates the q-quantile by linear interpolation inside its bucket, as Prometheus's
// histogram_quantile does; beyond the last bound it answers the last bound.
func (h Histogram) Quantile(q float64) time.Duration {
	rank := q * float64(h.Total)
	lower, below := 0.0, uint64(0)
	for i, bound := range h.Bounds {
		if float64(h.Counts[i]) >= rank {
			in := h.Counts[i] - below
			frac := 1.0
			if in > 0 {
				frac = (rank - float64(below)) / float64(in)
			}
			return time.Duration((lower + (bound-lower)*frac) * float64(time.Second))
		}
		lower, below = bound, h.Counts[i]
	}
	return time.Duration(lower * float64(time.Second))
}
