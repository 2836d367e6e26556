package receiver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/store"
)

// The jobs API: queue a retry job, follow it, list and cancel — every answer as openapi.yaml says.
func TestJobsAPI(t *testing.T) { forEachDriver(t, testJobsAPI) }

func testJobsAPI(t *testing.T, driver string) {
	h := newHarness(t, driver)
	ctx := context.Background()
	var list struct{ Jobs []jobJSON }
	if r := h.do("GET", "/api/v1/jobs", "", nil); r.status != 200 || string(r.body) != "{\"jobs\":[]}\n" {
		t.Fatalf("no jobs yet: %d %q", r.status, r.body)
	}

	var j jobJSON
	r := h.postJSON("/api/v1/jobs", map[string]any{"kind": "retry", "params": map[string]any{"statuses": []string{"failed", "no_faces"}}})
	r.json(t, &j)
	if r.status != 202 || j.Kind != "retry" || j.State != "queued" || string(j.Params) != `{"statuses":["failed","no_faces"],"batch":200}` ||
		r.header.Get("Location") != fmt.Sprintf("/api/v1/jobs/%d", j.ID) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, bad := range []struct {
		body any
		want string
	}{
		{map[string]any{"kind": "rebuild-clusters"}, "unknown job kind"},
		{map[string]any{"kind": "reembed", "params": map[string]any{"batch": -1}}, "not between 1 and 1000"},
		{map[string]any{"kind": "retry", "params": map[string]any{"statuses": []string{"processing"}}}, "being processed"},
		{map[string]any{"kind": "retry", "params": map[string]any{"batch": 0.5}}, "retry job parameters"},
		{map[string]any{"kind": "retry", "extra": true}, "unknown field"},
	} {
		if r := h.postJSON("/api/v1/jobs", bad.body); r.status != 400 || !strings.Contains(r.errorMessage(t), bad.want) {
			t.Errorf("POST %v: %d %s, want 400 saying %q", bad.body, r.status, r.body, bad.want)
		}
	}

	// A runner takes it and reports progress, held back for live images.
	if _, ok, err := h.st.ClaimJob(ctx, store.JobClaim{Owner: "replica-1", Lease: time.Minute, Kinds: []string{"retry"}}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	h.st.CheckpointJob(ctx, j.ID, "replica-1", "40", 40, 100, time.Minute)
	h.st.ExtendJobLease(ctx, j.ID, "replica-1", time.Minute, true)
	r = h.do("GET", fmt.Sprintf("/api/v1/jobs/%d", j.ID), "", nil)
	r.json(t, &j)
	if r.status != 200 || j.State != "running" || j.Done != 40 || j.Total != 100 || j.Checkpoint != "40" || j.Runner != "replica-1" ||
		j.ThrottledSince == nil || j.LeaseExpiresAt == nil || j.StartedAt == nil || j.FinishedAt != nil {
		t.Fatalf("running job: %d %s", r.status, r.body)
	}
	for path, want := range map[string]int{"/api/v1/jobs/999": 404, "/api/v1/jobs/x": 400, "/api/v1/jobs?state=lost": 400, "/api/v1/jobs?limit=0": 400, "/api/v1/jobs?before=-2": 400} {
		if r := h.do("GET", path, "", nil); r.status != want {
			t.Errorf("GET %s: %d, want %d", path, r.status, want)
		}
	}

	second, _ := h.st.CreateJob(ctx, "retry", nil)
	h.do("GET", "/api/v1/jobs?state=queued", "", nil).json(t, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != second.ID {
		t.Fatalf("queued jobs: %+v", list.Jobs)
	}
	h.do("GET", "/api/v1/jobs?state=running,queued&limit=5", "", nil).json(t, &list)
	if len(list.Jobs) != 2 || list.Jobs[0].ID != second.ID || list.Jobs[1].ID != j.ID {
		t.Fatalf("newest first: %+v", list.Jobs)
	}
	h.do("GET", fmt.Sprintf("/api/v1/jobs?before=%d", second.ID), "", nil).json(t, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != j.ID {
		t.Fatalf("the page before %d: %+v", second.ID, list.Jobs)
	}

	r = h.do("POST", fmt.Sprintf("/api/v1/jobs/%d/cancel", j.ID), "", nil)
	r.json(t, &j)
	if r.status != 200 || j.State != "cancelled" || j.FinishedAt == nil || j.Done != 40 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	h.st.FinishJob(ctx, j.ID, "replica-1", store.JobFailed, "cancelled")
	h.st.ClaimJob(ctx, store.JobClaim{Owner: "replica-1", Lease: time.Minute, Kinds: []string{"retry"}, ID: second.ID})
	h.st.FinishJob(ctx, second.ID, "replica-1", store.JobDone, "")
	if r := h.do("POST", fmt.Sprintf("/api/v1/jobs/%d/cancel", second.ID), "", nil); r.status != 409 || !strings.Contains(r.errorMessage(t), "already done") {
		t.Fatalf("cancel of a done job: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/api/v1/jobs/999/cancel", "", nil); r.status != 404 {
		t.Fatalf("cancel of a missing job: %d", r.status)
	}
}
