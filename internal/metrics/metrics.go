// Package metrics holds what facecluster's Prometheus metrics share (prometheus/client_golang):
// the process registry served at /metrics, the namespace and the latency buckets. Each package
// declares and registers its own metrics through the prometheus.Registerer in its Options and
// exports their names as constants (processor.MetricMessages, queue.MetricDepth, …).
package metrics

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every facecluster metric name.
const Namespace = "facecluster"

// LatencyBuckets are the histogram buckets of every facecluster latency, in seconds. Keeping
// them equal lets the status page add up several processes' histograms.
var LatencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewRegistry returns a registry with the Go runtime and process collectors, one per process.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves r in the Prometheus exposition format.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r})
}

// Register registers c with reg and returns it, or the collector already registered under the
// same description (two clients of one process share their metric); a nil reg registers
// nothing (the metric is then recorded but not exported, as in tests).
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
