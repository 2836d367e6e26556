package receiver

import (
	"fmt"
	"strings"
	"testing"
)

// TestListFiltersThatCanMatchNothingAreErrors: a time range that ends before it starts, or a
// person who does not exist, is a mistake in the request — answered as one, not with an empty
// list that reads like "nothing happened".
func TestListFiltersThatCanMatchNothingAreErrors(t *testing.T) {
	forEachDriver(t, testListFiltersThatCanMatchNothingAreErrors)
}

func testListFiltersThatCanMatchNothingAreErrors(t *testing.T, driver string) {
	h := newHarness(t, driver)
	h.postJSON("/image/post", map[string]string{"path": h.file("a.jpg")})
	var p personJSON
	h.postJSON("/api/v1/people", map[string]string{"name": "Ann"}).json(t, &p)
	for _, c := range []struct {
		query   string
		want    int
		wantMsg string
	}{
		{"from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", 400, "to must be after from"},
		{"from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z", 400, "to must be after from"},
		{"person=999", 404, "person 999"},
		{"from=2026-11-01T00:00:00Z&to=2126-11-01T00:00:00Z", 200, ""},
		{fmt.Sprintf("person=%d", p.ID), 200, ""}, // known, seen nowhere yet: an empty page
	} {
		r := h.do("GET", "/api/v1/images?"+c.query, "", nil)
		if r.status != c.want {
			t.Fatalf("%s: %d %s, want %d", c.query, r.status, r.body, c.want)
		}
		if c.wantMsg != "" && !strings.Contains(r.errorMessage(t), c.wantMsg) {
			t.Fatalf("%s: %s does not say %q", c.query, r.body, c.wantMsg)
		}
	}
}
