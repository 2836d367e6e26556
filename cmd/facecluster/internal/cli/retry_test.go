package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/store"
)

func TestRetryFailedImagesOnce(t *testing.T) { forEachDriver(t, testRetryFailedImagesOnce) }

func testRetryFailedImagesOnce(t *testing.T, driver string) {
	db := newTestDB(t, driver)
	if r := db.run(t, "migrate", "--env-file", ""); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	st := db.open(t)
	ctx := context.Background()
	sub, err := st.SubmitImages(ctx, []store.NewImage{{Source: "/images/a.jpg"}, {Source: "/images/b.jpg"}})
	if err != nil {
		t.Fatal(err)
	}
	failed := sub[0].ID
	if ok, err := st.ClaimImage(ctx, failed, "p", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := st.RecordFailure(ctx, failed, "p", "recognizer unavailable", true, 1); err != nil {
		t.Fatal(err)
	}

	// nsqd down: nothing changes, and the message says why.
	down := testutil.FreeAddr(t)
	r := db.run(t, "retry", "--env-file", "", "--nsqd-tcp-addr", down)
	if r.code != ExitError || !strings.Contains(r.stderr, "unreachable; nothing was changed") {
		t.Fatalf("retry with nsqd down: exit %d, stderr %q", r.code, r.stderr)
	}
	if img, _ := st.GetImage(ctx, failed); img.Status != store.StatusFailed {
		t.Fatalf("image is %s after a refused retry, want failed", img.Status)
	}

	d, err := queue.StartNSQD(queue.NSQDOptions{DataDir: t.TempDir(), TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r = db.run(t, "retry", "--env-file", "", "--nsqd-tcp-addr", d.TCPAddr(), "--status", "failed")
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "1 images retried" {
		t.Fatalf("retry: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	img, _ := st.GetImage(ctx, failed)
	if img.Status != store.StatusPending || img.Attempts != 0 {
		t.Fatalf("retried image is %s with %d attempts, want pending with 0", img.Status, img.Attempts)
	}
	if d.Depth() != 1 {
		t.Fatalf("queue depth %d, want the retried id", d.Depth())
	}

	// The retry was a job: listed, done, with its progress.
	r = db.run(t, "jobs", "--env-file", "")
	if r.code != ExitOK || !strings.Contains(r.stdout, "retry") || !strings.Contains(r.stdout, "done") || !strings.Contains(r.stdout, "1/1 (100%)") {
		t.Fatalf("jobs after a retry: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, bad := range []string{"processing", "lost"} {
		if r := db.run(t, "retry", "--env-file", "", "--status", bad); r.code != ExitUsage {
			t.Errorf("--status %s: exit %d, want %d", bad, r.code, ExitUsage)
		}
	}
}
