package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/metrics"
)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestRequestsAreCountedByRoutePattern(t *testing.T) {
	m := metrics.New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/images/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "404" {
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(m.Instrument(mux))
	defer srv.Close()
	for _, p := range []string{"/api/v1/images/1", "/api/v1/images/2", "/api/v1/images/404", "/nowhere"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	out := scrape(t, m.Handler())
	for _, want := range []string{
		`facecluster_http_requests_total{code="200",method="GET",route="GET /api/v1/images/{id}"} 2`,
		`facecluster_http_requests_total{code="404",method="GET",route="GET /api/v1/images/{id}"} 1`,
		`facecluster_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`facecluster_http_request_duration_seconds_count{method="GET",route="GET /api/v1/images/{id}"} 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestScrapeTimeGauges(t *testing.T) {
	m := metrics.New()
	m.QueueDepth(func() int64 { return 42 })
	calls := 0
	m.ImagesByStatus(func(context.Context) (map[string]int64, error) {
		calls++
		return map[string]int64{"pending": 3, "processed": 9}, nil
	}, time.Minute, nil)
	m.BreakerState.Set(1)
	out := scrape(t, m.Handler())
	_ = scrape(t, m.Handler())
	for _, want := range []string{"facecluster_queue_depth 42", `facecluster_images{status="pending"} 3`, `facecluster_images{status="processed"} 9`, "facecluster_breaker_state 1", "go_goroutines"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if calls != 1 {
		t.Fatalf("status counts queried %d times for two scrapes within the cache period, want 1", calls)
	}
}
