package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/store"
)

// A retry queued with --background waits for a serving reconciler; `jobs` lists it, `jobs show`
// tells what it waits for, `jobs cancel` stops it, and bad ids are usage errors.
func TestJobsListShowCancel(t *testing.T) { forEachDriver(t, testJobsListShowCancel) }

func testJobsListShowCancel(t *testing.T, driver string) {
	db := newTestDB(t, driver)
	if r := db.run(t, "jobs", "--env-file", "", "--migrate=false", "--db-wait", "0"); r.code == ExitOK {
		t.Fatalf("jobs on an unmigrated database: exit 0\n%s", r.stdout)
	}
	if r := db.run(t, "jobs", "--env-file", ""); r.code != ExitOK || strings.TrimSpace(r.stdout) != "no background jobs" {
		t.Fatalf("jobs on an empty database: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	r := db.run(t, "retry", "--env-file", "", "--background", "--status", "failed,no_faces")
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "job 1 queued") {
		t.Fatalf("retry --background: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	st := db.open(t)
	j, err := st.GetJob(context.Background(), 1)
	if err != nil || j.Kind != "retry" || j.State != store.JobQueued || string(j.Params) != `{"statuses":["failed","no_faces"],"batch":200}` {
		t.Fatalf("queued job %+v %v", j, err)
	}

	r = db.run(t, "jobs", "list", "--env-file", "", "--state", "queued")
	if r.code != ExitOK || len(lines(r.stdout)) != 2 || !strings.Contains(r.stdout, "waiting for a runner") {
		t.Fatalf("jobs list --state queued: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := db.run(t, "jobs", "list", "--env-file", "", "--state", "done"); r.code != ExitOK || strings.TrimSpace(r.stdout) != "no background jobs" {
		t.Fatalf("jobs list --state done: exit %d\n%s", r.code, r.stdout)
	}
	r = db.run(t, "jobs", "show", "1", "--env-file", "")
	for key, want := range map[string]string{"kind": "retry", "state": "queued", "params": `{"statuses":["failed","no_faces"],"batch":200}`, "progress": "0"} {
		if got := field(r.stdout, key); got != want {
			t.Fatalf("jobs show 1: exit %d, %s %q, want %q in\n%s%s", r.code, key, got, want, r.stdout, r.stderr)
		}
	}

	// --watch follows it until it ends: here, until it is cancelled.
	go func() {
		time.Sleep(time.Second)
		st.CancelJob(context.Background(), 1)
	}()
	r = db.run(t, "jobs", "show", "1", "--watch", "--env-file", "")
	if r.code != ExitError || field(r.stdout, "state") != "cancelled" {
		t.Fatalf("jobs show --watch of a job cancelled meanwhile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = db.run(t, "jobs", "cancel", "1", "--env-file", "")
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "job 1 cancelled at 0" {
		t.Fatalf("second cancel (nothing changes): exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	// A finished job cannot be cancelled.
	done, _ := st.CreateJob(context.Background(), "retry", nil)
	st.ClaimJob(context.Background(), store.JobClaim{Owner: "x", Lease: time.Minute, Kinds: []string{"retry"}, ID: done.ID})
	st.FinishJob(context.Background(), done.ID, "x", store.JobDone, "")
	if r := db.run(t, "jobs", "cancel", "2", "--env-file", ""); r.code != ExitError || !strings.Contains(r.stderr, "job 2 is already done; nothing to cancel") {
		t.Fatalf("cancel of a done job: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"show", "x"}, {"show", "99"}, {"cancel"}, {"list", "--state", "lost"}} {
		if r := db.run(t, "jobs", append(args, "--env-file", "")...); r.code != ExitUsage {
			t.Errorf("jobs %v: exit %d, want %d (%s)", args, r.code, ExitUsage, r.stderr)
		}
	}
}

// field is the value of "key:" in `jobs show` output.
func field(out, key string) string {
	for _, l := range lines(out) {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
