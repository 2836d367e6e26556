package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/internal/metrics"
)

// TestRegisterSharesOneMetricPerRegistry: two components of one process registering the same
// metric record into one series, and the registry serves it beside the runtime's metrics.
func TestRegisterSharesOneMetricPerRegistry(t *testing.T) {
	reg := metrics.NewRegistry()
	newCounter := func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: "test_total", Help: "Test."}, []string{"kind"})
	}
	a, err := metrics.Register(reg, newCounter())
	if err != nil {
		t.Fatal(err)
	}
	b, err := metrics.Register(reg, newCounter())
	if err != nil {
		t.Fatalf("registering the same metric twice: %v", err)
	}
	a.WithLabelValues("x").Inc()
	b.WithLabelValues("x").Inc()
	if _, err := metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metrics.Namespace, Name: "test_total", Help: "Other."})); err == nil {
		t.Error("a different metric under a taken name was accepted")
	}
	if _, err := metrics.Register(nil, newCounter()); err != nil {
		t.Errorf("nil registerer: %v", err)
	}

	srv := httptest.NewServer(metrics.Handler(reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`facecluster_test_total{kind="x"} 2`, "go_goroutines", "process_"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
