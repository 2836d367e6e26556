package receiver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/store"
)

// TestWrongMethodsAndUnknownRoutesAnswerJSON: a client that uses the wrong method or mistypes an
// API path gets the same JSON error shape as every other mistake, not Go's plain-text page.
func TestWrongMethodsAndUnknownRoutesAnswerJSON(t *testing.T) {
	h := newHarness(t, store.DriverSQLite)
	// The web UI shares the listener and has GET /images/{id}: the fallbacks must not clash with it.
	mux := http.NewServeMux()
	h.rc.Register(mux)
	mux.HandleFunc("GET /images/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /images/{id}/retry", func(w http.ResponseWriter, r *http.Request) {})

	cases := []struct {
		method, path string
		want         int
		wantAllow    string
		wantMsg      string
	}{
		{"GET", "/image/post", 405, "POST", "POST"},
		{"PUT", "/images/post", 405, "POST", "POST"},
		{"GET", "/images/post", 405, "POST", "POST"},
		{"DELETE", "/api/v1/images/7", 405, "GET", "GET"},
		{"POST", "/api/v1/images/7", 405, "GET", "GET"},
		{"GET", "/api/v1/images/upload", 405, "POST", "POST"},
		{"PUT", "/api/v1/people", 405, "GET, POST", "GET, POST"},
		{"POST", "/api/v1/openapi.yaml", 405, "GET", "GET"},
		{"GET", "/api/v1/recognise", 404, "", "/api/v1/recognise"},
		{"GET", "/api/v1/", 404, "", "openapi.yaml"},
		{"POST", "/api/v2/images", 0, "", ""}, // outside the API: not the receiver's to answer
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, "http://fc.test"+c.path, strings.NewReader(`{}`))
			_, pattern := mux.Handler(req)
			if c.want == 0 {
				if pattern != "" {
					t.Fatalf("%s %s is handled by %q", c.method, c.path, pattern)
				}
				return
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q, want application/json: %s", ct, rec.Body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, c.wantMsg) {
				t.Fatalf("body %q: want a JSON error naming %q", rec.Body, c.wantMsg)
			}
			if got := rec.Header().Get("Allow"); got != c.wantAllow {
				t.Fatalf("Allow %q, want %q", got, c.wantAllow)
			}
		})
	}
	// The real routes are still served by their handlers.
	resp, err := http.Get(h.srv.URL + "/api/v1/people")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"people"`) {
		t.Fatalf("GET /api/v1/people = %d %s", resp.StatusCode, b)
	}
}
