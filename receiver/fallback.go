package receiver

import (
	"net/http"
	"slices"
	"strings"
)

// registerFallbacks answers the requests no API route takes with the API's JSON error shape:
// a known path with another method gets 405 and an Allow header, an unknown path under /api/v1/
// gets 404 — instead of net/http's plain-text pages, which API clients cannot parse.
//
// Each fallback is a method-and-path pattern, more specific than the web UI's wildcards on the
// same listener (GET /images/{id} vs GET /images/post), so the two never conflict.
func (rc *Receiver) registerFallbacks(mux *http.ServeMux) {
	allowed := map[string][]string{} // path pattern → methods served
	var paths []string
	for _, r := range rc.routes() {
		if _, ok := allowed[r.path]; !ok {
			paths = append(paths, r.path)
		}
		allowed[r.path] = append(allowed[r.path], r.method)
	}
	for _, p := range paths {
		methods := allowed[p]
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{
				"error": r.Method + " is not allowed on " + r.URL.Path + ": use " + allow})
		})
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if !slices.Contains(methods, m) {
				mux.Handle(m+" "+p, h)
			}
		}
	}
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error": "no API endpoint " + r.Method + " " + r.URL.Path + "; the endpoints are listed in /api/v1/openapi.yaml"})
	})
}
