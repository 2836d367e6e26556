package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/internal/metrics"
)

func TestRequestsAreCountedByRoutePattern(t *testing.T) {
	reg := metrics.NewRegistry()
	m, err := newHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/images/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "404" {
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(m.instrument(mux))
	defer srv.Close()
	for _, p := range []string{"/api/v1/images/1", "/api/v1/images/2", "/api/v1/images/404", "/nowhere"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	scrape := httptest.NewServer(metrics.Handler(reg))
	defer scrape.Close()
	resp, err := http.Get(scrape.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := string(b)
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
