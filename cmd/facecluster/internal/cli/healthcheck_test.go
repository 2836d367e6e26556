package cli

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheckExitCodes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/starting", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	srv := httptest.NewServer(mux)
	closed := httptest.NewServer(mux)
	closed.Close()
	defer srv.Close()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"ready", []string{"healthcheck", srv.URL + "/readyz"}, ExitOK},
		{"not ready", []string{"healthcheck", srv.URL + "/starting"}, ExitError},
		{"nothing listening", []string{"healthcheck", closed.URL + "/readyz"}, ExitError},
		{"bad url", []string{"healthcheck", "://nope"}, ExitUsage},
		{"too many args", []string{"healthcheck", "a", "b"}, ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Main(tt.args); got != tt.want {
				t.Errorf("Main(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}
