package processor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/metrics"
)

// The processor's metrics (dashboards, docs/pipeline.md and the status page read them by name).
const (
	// MetricMessages counts queue messages by outcome: processed, unidentified, no_faces, failed,
	// retry, requeued_breaker_open, duplicate, …
	MetricMessages = metrics.Namespace + "_processor_messages_total"
	// MetricProcessingSeconds is the time from claiming an image to recording its outcome.
	MetricProcessingSeconds = metrics.Namespace + "_processing_duration_seconds"
	// MetricBreakerState is the recognizer circuit breaker's state: 0 closed, 1 open, 2 probing.
	MetricBreakerState = metrics.Namespace + "_breaker_state"
	// MetricBreakerTransitions counts the breaker's state changes by new state.
	MetricBreakerTransitions = metrics.Namespace + "_breaker_transitions_total"
)

type processorMetrics struct {
	messages *prometheus.CounterVec   // outcome
	seconds  *prometheus.HistogramVec // outcome
}

func newMetrics(reg prometheus.Registerer) (*processorMetrics, error) {
	messages, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricMessages,
		Help: "Queue messages handled by processors, by outcome."}, []string{"outcome"}))
	if err != nil {
		return nil, fmt.Errorf("processor: metrics: %w", err)
	}
	seconds, err := metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricProcessingSeconds,
		Help: "Time from claiming an image to recording its outcome, by outcome.", Buckets: metrics.LatencyBuckets}, []string{"outcome"}))
	if err != nil {
		return nil, fmt.Errorf("processor: metrics: %w", err)
	}
	return &processorMetrics{messages: messages, seconds: seconds}, nil
}

// BreakerMetrics registers the recognizer breaker's metrics with reg and returns the
// breaker.Options.OnStateChange that keeps them current.
func BreakerMetrics(reg prometheus.Registerer) (func(from, to breaker.State), error) {
	state, err := metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricBreakerState,
		Help: "Recognizer circuit breaker: 0 closed, 1 open, 2 probing."}))
	if err != nil {
		return nil, fmt.Errorf("processor: breaker metrics: %w", err)
	}
	changes, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricBreakerTransitions,
		Help: "Circuit breaker state changes, by new state."}, []string{"to"}))
	if err != nil {
		return nil, fmt.Errorf("processor: breaker metrics: %w", err)
	}
	return func(_, to breaker.State) {
		state.Set(float64(to))
		changes.WithLabelValues(to.String()).Inc()
	}, nil
}
