package receiver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/store"
)

// TestCompatiblePathsAnswerWrongMethodsWithJSON: a client of the original's endpoints that uses
// the wrong method gets the API's JSON error, also on the listener the web UI shares (whose
// GET /images/{id} must neither clash with the fallbacks nor take /images/post).
func TestCompatiblePathsAnswerWrongMethodsWithJSON(t *testing.T) {
	h := newHarness(t, store.DriverSQLite)
	mux := http.NewServeMux()
	h.rc.Register(mux)
	mux.HandleFunc("GET /images/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	mux.HandleFunc("POST /images/{id}/retry", func(w http.ResponseWriter, r *http.Request) {})

	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/image/post", 405},
		{"PUT", "/image/post", 405},
		{"GET", "/images/post", 405},
		{"DELETE", "/images/post", 405},
		{"GET", "/images/12", 299}, // the UI's page
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.want {
			t.Errorf("%s %s = %d, want %d: %s", c.method, c.path, rec.Code, c.want, rec.Body)
			continue
		}
		if c.want != 405 {
			continue
		}
		var e struct{ Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, "allowed: POST") ||
			rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Allow") != "POST" {
			t.Errorf("%s %s: %s %q allow %q, want a JSON error naming POST", c.method, c.path, rec.Header().Get("Content-Type"), rec.Body, rec.Header().Get("Allow"))
		}
	}
}
