package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/jobs"
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

// Ctrl-C in the middle of `facecluster retry` gives the job back at its last checkpoint; a
// runner (a serving reconciler) resumes it there: every failed image is requeued and published
// exactly once.
func TestRetryInterruptedIsResumed(t *testing.T) { forEachDriver(t, testRetryInterruptedIsResumed) }

func testRetryInterruptedIsResumed(t *testing.T, driver string) {
	db := newTestDB(t, driver)
	if r := db.run(t, "migrate", "--env-file", ""); r.code != ExitOK {
		t.Fatal(r.stderr)
	}
	st := db.open(t)
	ctx := context.Background()
	const n = 300
	var news []store.NewImage
	for i := range n {
		news = append(news, store.NewImage{Source: fmt.Sprintf("/images/%03d.jpg", i)})
	}
	sub, err := st.SubmitImages(ctx, news)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sub {
		st.ClaimImage(ctx, s.ID, "p", time.Minute)
		if _, err := st.RecordFailure(ctx, s.ID, "p", "recognizer unavailable", true, 1); err != nil {
			t.Fatal(err)
		}
	}
	d, err := queue.StartNSQD(queue.NSQDOptions{DataDir: t.TempDir(), TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	cmd := exec.Command(binary(t), append(append([]string{"retry"}, db.args...), "--env-file", "", "--nsqd-tcp-addr", d.TCPAddr(), "--batch", "1")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if j, err := st.GetJob(ctx, 1); err == nil && j.Done >= 20 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the retry never got 20 images far: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != ExitError || !strings.Contains(stderr.String(), "was given back") {
		t.Fatalf("interrupted retry: exit %d (%v)\nstdout %s\nstderr %s", code, err, stdout.String(), stderr.String())
	}
	j, _ := st.GetJob(ctx, 1)
	if j.State != store.JobQueued || j.Done < 20 || j.Done >= n || j.Checkpoint == "" || j.LeaseOwner != "" {
		t.Fatalf("job after the interrupt: %+v", j)
	}
	t.Logf("interrupted after %d of %d images", j.Done, n)

	p, err := queue.NewProducer(d.TCPAddr(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, err := jobs.New(jobs.Options{Store: st, Handlers: map[string]jobs.Handler{jobs.KindRetry: jobs.Retry(st, p, nil)}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = r.RunJob(ctx, 1); err != nil || j.State != store.JobDone || j.Done != n || j.Attempts != 1 {
		t.Fatalf("resumed job: %+v %v", j, err)
	}
	counts, _ := st.CountByStatus(ctx)
	if counts[store.StatusPending] != n || counts[store.StatusFailed] != 0 {
		t.Fatalf("images after the resumed retry: %v", counts)
	}
	if depth := d.Depth(); depth != n {
		t.Fatalf("queue depth %d: want each of the %d images published once", depth, n)
	}
}
