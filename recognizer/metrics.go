package recognizer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/internal/metrics"
)

// The recognizer's metrics (dashboards and docs/pipeline.md read them by name).
const (
	// MetricGalleryVersion is the gallery version a recognizer has loaded.
	MetricGalleryVersion = metrics.Namespace + "_gallery_version"
	// MetricGalleryExamples is the number of enrolment examples in a recognizer's gallery.
	MetricGalleryExamples = metrics.Namespace + "_gallery_examples"
	// MetricGalleryStaleExamples is the number of examples a recognizer leaves out of its
	// gallery because another descriptor version computed them (`facecluster reembed`).
	MetricGalleryStaleExamples = metrics.Namespace + "_gallery_stale_examples"
	// MetricGalleryStalePeople is the number of people all of whose examples are of another
	// descriptor version: the recognizer cannot recognise them until they are re-embedded or
	// enrolled again.
	MetricGalleryStalePeople = metrics.Namespace + "_gallery_stale_people"
	// MetricRequestSeconds is the latency of recognizer calls seen by clients (processors,
	// receivers), by method and gRPC code.
	MetricRequestSeconds = metrics.Namespace + "_recognizer_request_duration_seconds"
)

type serverMetrics struct {
	galleryVersion  prometheus.Gauge
	galleryExamples prometheus.Gauge
	staleExamples   prometheus.Gauge
	stalePeople     prometheus.Gauge
}

func newServerMetrics(reg prometheus.Registerer) (*serverMetrics, error) {
	version, err := metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricGalleryVersion,
		Help: "Gallery version loaded by this recognizer."}))
	if err != nil {
		return nil, fmt.Errorf("recognizer: metrics: %w", err)
	}
	examples, err := metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricGalleryExamples,
		Help: "Enrolment examples in this recognizer's gallery."}))
	if err != nil {
		return nil, fmt.Errorf("recognizer: metrics: %w", err)
	}
	staleExamples, err := metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricGalleryStaleExamples,
		Help: "Examples left out of this recognizer's gallery because another descriptor version computed them (facecluster reembed)."}))
	if err != nil {
		return nil, fmt.Errorf("recognizer: metrics: %w", err)
	}
	stalePeople, err := metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricGalleryStalePeople,
		Help: "People all of whose examples are of another descriptor version: not recognised until re-embedded or enrolled again."}))
	if err != nil {
		return nil, fmt.Errorf("recognizer: metrics: %w", err)
	}
	return &serverMetrics{galleryVersion: version, galleryExamples: examples, staleExamples: staleExamples, stalePeople: stalePeople}, nil
}

func newClientMetrics(reg prometheus.Registerer) (*prometheus.HistogramVec, error) {
	h, err := metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricRequestSeconds,
		Help: "Recognizer gRPC call latency seen by clients, by method and gRPC code.", Buckets: metrics.LatencyBuckets}, []string{"method", "code"}))
	if err != nil {
		return nil, fmt.Errorf("recognizer: client metrics: %w", err)
	}
	return h, nil
}
