package receiver

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/store"
)

// TestOpenAPIMatchesRoutes checks that every registered route is documented and every
// documented operation is registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	var registered []string
	for _, r := range (&Receiver{}).routes() {
		registered = append(registered, r.method+" "+r.path)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.yaml documents %s, which is not registered", d)
		}
	}
	// Every route actually answers on a mux (no pattern conflicts, methods as documented).
	h := newHarness(t, store.DriverSQLite)
	for _, r := range registered {
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{id}", "1", "{example}", "1").Replace(path)
		req, _ := http.NewRequest(method, h.srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusMethodNotAllowed || (resp.StatusCode == 404 && resp.Header.Get("Content-Type") != "application/json") {
			t.Errorf("%s is not served: %d", r, resp.StatusCode)
		}
	}
}

// deadNSQD is a real producer whose nsqd is not running: publishing fails.
func deadNSQD(t *testing.T) Publisher {
	p, err := queue.NewProducer("127.0.0.1:1", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestUnknownPathsAndMethodsGetJSONErrors(t *testing.T) {
	h := newHarness(t, store.DriverSQLite)
	for _, c := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"DELETE", "/api/v1/images", 405, "POST, GET"},
		{"PUT", "/api/v1/people/1", 405, "GET, PATCH, DELETE"},
		{"GET", "/api/v1/nothing", 404, ""},
	} {
		req, _ := http.NewRequest(c.method, h.srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.want || err != nil || e.Error == "" || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d allow %q error %q (%v)", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), e.Error, err)
		}
	}
}
