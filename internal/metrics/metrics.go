// Package metrics holds facecluster's Prometheus metrics (prometheus/client_golang): one registry
// per process, served at /metrics by serve. Roles record into the fields; gauges that reflect
// other components (queue depth, images by status) are read when Prometheus scrapes.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "facecluster"

// Metrics is safe for concurrent use.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPRequests      *prometheus.CounterVec   // method, route, code
	HTTPDuration      *prometheus.HistogramVec // method, route
	Processed         *prometheus.CounterVec   // outcome: processed, unidentified, no_faces, failed, retry, requeued_breaker_open, duplicate
	ProcessingSeconds *prometheus.HistogramVec // outcome
	RecognizerSeconds *prometheus.HistogramVec // method, code (gRPC status)
	BreakerState      prometheus.Gauge         // 0 closed, 1 open, 2 probing
	BreakerChanges    *prometheus.CounterVec   // to
	Published         prometheus.Counter
	PublishErrors     prometheus.Counter
	Republished       *prometheus.CounterVec // reason: stale_pending, expired_lease, retry_failed
	GalleryVersion    prometheus.Gauge
	GalleryExamples   prometheus.Gauge
}

// New returns metrics registered in a fresh registry with the Go runtime and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		Registry: r,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests by method, route pattern and status code."}, []string{"method", "route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
			Help: "HTTP request latency by method and route pattern.", Buckets: latency}, []string{"method", "route"}),
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "processor_messages_total",
			Help: "Queue messages handled by processors, by outcome."}, []string{"outcome"}),
		ProcessingSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "processing_duration_seconds",
			Help: "Time from claiming an image to recording its outcome, by outcome.", Buckets: latency}, []string{"outcome"}),
		RecognizerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "recognizer_request_duration_seconds",
			Help: "Recognizer gRPC call latency seen by clients, by method and gRPC code.", Buckets: latency}, []string{"method", "code"}),
		BreakerState: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "breaker_state",
			Help: "Recognizer circuit breaker: 0 closed, 1 open, 2 probing."}),
		BreakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "breaker_transitions_total",
			Help: "Circuit breaker state changes, by new state."}, []string{"to"}),
		Published: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "queue_published_total",
			Help: "Image ids published to the images topic."}),
		PublishErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "queue_publish_errors_total",
			Help: "Failed publishes (the reconciler republishes those images)."}),
		Republished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "reconciler_republished_total",
			Help: "Image ids the reconciler published again, by reason."}, []string{"reason"}),
		GalleryVersion: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "gallery_version",
			Help: "Gallery version loaded by this recognizer."}),
		GalleryExamples: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "gallery_examples",
			Help: "Enrolment examples in this recognizer's gallery."}),
	}
	r.MustRegister(m.HTTPRequests, m.HTTPDuration, m.Processed, m.ProcessingSeconds, m.RecognizerSeconds,
		m.BreakerState, m.BreakerChanges, m.Published, m.PublishErrors, m.Republished, m.GalleryVersion, m.GalleryExamples)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// QueueDepth registers a gauge read from depth at scrape time (an embedded nsqd's depth).
func (m *Metrics) QueueDepth(depth func() int64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "queue_depth",
		Help: "Messages waiting in the processors' channel of the images topic (embedded nsqd)."},
		func() float64 { return float64(depth()) }))
}

// ClusterQueueDepth registers the depth of the whole queue read from depth at scrape time; a
// scrape where depth cannot tell (ok false: an nsqd did not answer) has no sample rather than
// a wrong one.
func (m *Metrics) ClusterQueueDepth(depth func() (int64, bool)) {
	m.Registry.MustRegister(&depthCollector{depth: depth, desc: prometheus.NewDesc(namespace+"_cluster_queue_depth",
		"Messages waiting for processors on the images topic, summed over every nsqd nsqlookupd knows (the same total in each process that reports it: aggregate with max, not sum).", nil, nil)})
}

type depthCollector struct {
	depth func() (int64, bool)
	desc  *prometheus.Desc
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	if d, ok := c.depth(); ok {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(d))
	}
}

// ImagesByStatus registers a gauge vector read from count at scrape time (at most every
// cacheFor, so frequent scrapes do not load the database).
func (m *Metrics) ImagesByStatus(count func(ctx context.Context) (map[string]int64, error), cacheFor time.Duration, log *slog.Logger) {
	m.Registry.MustRegister(&statusCollector{count: count, cacheFor: cacheFor, log: log,
		desc: prometheus.NewDesc(namespace+"_images", "Images in the database by status.", []string{"status"}, nil)})
}

type statusCollector struct {
	count    func(ctx context.Context) (map[string]int64, error)
	cacheFor time.Duration
	log      *slog.Logger
	desc     *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts map[string]int64
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil || time.Since(c.at) > c.cacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		counts, err := c.count(ctx)
		cancel()
		if err != nil {
			if c.log != nil {
				c.log.Warn("metrics: counting images by status failed", "error", err.Error())
			}
		} else {
			c.counts, c.at = counts, time.Now()
		}
	}
	for status, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), status)
	}
}

// Instrument counts and times every request by the route pattern the mux matched (so ids in
// paths do not explode the label set).
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by http.ServeMux on this request
		if route == "" {
			route = "unmatched"
		}
		m.HTTPRequests.WithLabelValues(r.Method, route, strconv.Itoa(rec.code)).Inc()
		m.HTTPDuration.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

// Flush keeps server-sent events working through the wrapper.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
