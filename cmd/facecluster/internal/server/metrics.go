package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/internal/metrics"
	"github.com/facecluster/facecluster/store"
)

// The metrics of the process rather than of one role: its HTTP listener, and the images in its
// database.
const (
	// MetricHTTPRequests counts HTTP requests by method, route pattern and status code.
	MetricHTTPRequests = metrics.Namespace + "_http_requests_total"
	// MetricHTTPSeconds is HTTP request latency by method and route pattern.
	MetricHTTPSeconds = metrics.Namespace + "_http_request_duration_seconds"
	// MetricImages is the number of images in the database by status, read at scrape time.
	MetricImages = metrics.Namespace + "_images"
)

type httpMetrics struct {
	requests *prometheus.CounterVec   // method, route, code
	seconds  *prometheus.HistogramVec // method, route
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	requests, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricHTTPRequests,
		Help: "HTTP requests by method, route pattern and status code."}, []string{"method", "route", "code"}))
	if err != nil {
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	seconds, err := metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricHTTPSeconds,
		Help: "HTTP request latency by method and route pattern.", Buckets: metrics.LatencyBuckets}, []string{"method", "route"}))
	if err != nil {
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	return &httpMetrics{requests: requests, seconds: seconds}, nil
}

// instrument counts and times every request by the route pattern the mux matched (so ids in
// paths do not explode the label set).
func (m *httpMetrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by http.ServeMux on this request
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.code)).Inc()
		m.seconds.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
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

// registerImagesByStatus registers MetricImages, counted at scrape time at most every 2 s so
// frequent scrapes do not load the database.
func registerImagesByStatus(reg prometheus.Registerer, st *store.Store, log *slog.Logger) error {
	_, err := metrics.Register(reg, &imagesCollector{st: st, cacheFor: 2 * time.Second, log: log,
		desc: prometheus.NewDesc(MetricImages, "Images in the database by status.", []string{"status"}, nil)})
	if err != nil {
		return fmt.Errorf("server: metrics: %w", err)
	}
	return nil
}

type imagesCollector struct {
	st interface {
		CountByStatus(context.Context) (map[store.Status]int64, error)
	}
	cacheFor time.Duration
	log      *slog.Logger
	desc     *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts map[store.Status]int64
}

func (c *imagesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *imagesCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil || time.Since(c.at) > c.cacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		counts, err := c.st.CountByStatus(ctx)
		cancel()
		if err != nil {
			c.log.Warn("metrics: counting images by status failed", "err", err.Error())
		} else {
			c.counts, c.at = counts, time.Now()
		}
	}
	for status, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(status))
	}
}
