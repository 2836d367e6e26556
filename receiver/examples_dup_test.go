package receiver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/engine/face"
)

// TestEnrollingTheSamePathTwiceIsAConflict: posting a photo that is already one of the person's
// examples (a client retrying, a script run twice) must not add it again — a duplicate would
// weigh that photo twice in the person's mean distance. `facecluster enroll` skips such photos
// too. Nothing of a refused request is written.
func TestEnrollingTheSamePathTwiceIsAConflict(t *testing.T) {
	eng := testEngine(t)
	forEachDriver(t, func(t *testing.T, driver string) { testEnrollingTheSamePathTwice(t, eng, driver) })
}

func testEnrollingTheSamePathTwice(t *testing.T, eng *face.Engine, driver string) {
	h := newHarness(t, driver, withRealRecognizer(t, eng))
	crops := faceCrops(t, eng, "sample1.jpg")
	for i, name := range []string{"a.jpg", "b.jpg"} {
		if err := os.WriteFile(filepath.Join(h.root, name), crops[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var p personJSON
	h.postJSON("/api/v1/people", map[string]string{"name": "Ann"}).json(t, &p)
	examples := fmt.Sprintf("/api/v1/people/%d/examples", p.ID)
	if r := h.postJSON(examples, map[string]any{"path": "a.jpg"}); r.status != 201 {
		t.Fatalf("first enrolment: %d %s", r.status, r.body)
	}
	for _, body := range []map[string]any{
		{"path": "a.jpg"},
		{"path": filepath.Join(h.root, "a.jpg")},
		{"paths": []string{"b.jpg", "./a.jpg"}}, // b.jpg is new, but the request is refused whole
	} {
		r := h.postJSON(examples, body)
		if r.status != 409 || !strings.Contains(r.errorMessage(t), "already an example of Ann") {
			t.Fatalf("enrolling %v again: %d %s, want 409 naming the person", body, r.status, r.body)
		}
	}
	var exs struct{ Examples []exampleJSON }
	if h.do("GET", examples, "", nil).json(t, &exs); len(exs.Examples) != 1 {
		t.Fatalf("%d examples after refused duplicates, want 1", len(exs.Examples))
	}
	// Another person may have the same photo (a wrong enrolment is fixed by removing it there).
	var q personJSON
	h.postJSON("/api/v1/people", map[string]string{"name": "Bea"}).json(t, &q)
	if r := h.postJSON(fmt.Sprintf("/api/v1/people/%d/examples", q.ID), map[string]any{"path": "a.jpg"}); r.status != 201 {
		t.Fatalf("the same photo for another person: %d %s", r.status, r.body)
	}
}
