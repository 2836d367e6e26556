package receiver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/facecluster/facecluster/internal/httpjson"
)

// compatFallbacks answers the other methods on the compatible paths (/image/post, /images/post)
// with the API's JSON 405, as the /api/v1/ fallback does for its paths. A method-less pattern
// there would clash with the web UI's "GET /images/{id}" on the same listener, so each wrong
// method gets its own pattern ("GET /images/post" is more specific than the UI's route).
func (rc *Receiver) compatFallbacks(mux *http.ServeMux, allowed map[string][]string) {
	for path, methods := range allowed {
		if strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		allow := strings.Join(methods, ", ")
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			httpjson.Write(w, http.StatusMethodNotAllowed, map[string]string{"error": fmt.Sprintf("%s is not supported on %s (allowed: %s)", r.Method, r.URL.Path, allow)})
		})
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost} {
			if !slices.Contains(methods, m) {
				mux.Handle(m+" "+path, h)
			}
		}
	}
}
