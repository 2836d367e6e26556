package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/store"
)

func TestRetryParams(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want string // "" = valid
	}{
		{``, ""},
		{`{}`, ""},
		{`{"statuses":["failed","no_faces"],"batch":50}`, ""},
		{`{"statuses":["processing"]}`, "being processed"},
		{`{"statuses":["lost"]}`, "unknown status"},
		{`{"batch":-1}`, "not between"},
		{`{"statusses":["failed"]}`, "unknown field"},
		{`{"statuses":"failed"}`, "cannot unmarshal"},
	} {
		p, err := jobs.ParseParams(jobs.KindRetry, json.RawMessage(tc.raw))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.raw, err)
		case tc.want != "" && (err == nil || !errors.Is(err, store.ErrInvalid) || !contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want ErrInvalid saying %q", tc.raw, err, tc.want)
		case err == nil:
			if rp := p.(*jobs.RetryParams); len(rp.Statuses) == 0 || rp.Batch <= 0 {
				t.Errorf("%s: defaults not filled in: %+v", tc.raw, rp)
			}
		}
	}
	if _, err := jobs.ParseParams("no-such-kind", nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown kind: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// The retry kind requeues the failed images (and only those) and publishes them to a real nsqd,
// batch by batch, reporting its progress in images.
func TestRetryJob(t *testing.T) {
	eachDriver(t, func(t *testing.T, db database) {
		ctx := context.Background()
		st := db.open(t)
		var news []store.NewImage
		for i := range 7 {
			news = append(news, store.NewImage{Source: fmt.Sprintf("/retry/%d.jpg", i)})
		}
		sub, err := st.SubmitImages(ctx, news)
		if err != nil {
			t.Fatal(err)
		}
		var failed []int64
		for i, s := range sub {
			if ok, _ := st.ClaimImage(ctx, s.ID, "p", time.Minute); !ok {
				t.Fatal("claim")
			}
			if i%3 == 0 { // 0, 3, 6 processed (no faces); the rest failed
				if _, err := st.RecordOutcome(ctx, s.ID, "p", store.Outcome{}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := st.RecordFailure(ctx, s.ID, "p", "recognizer unavailable", true, 1); err != nil {
				t.Fatal(err)
			}
			failed = append(failed, s.ID)
		}

		d, err := queue.StartNSQD(queue.NSQDOptions{DataDir: t.TempDir(), TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		p, err := queue.NewProducer(d.TCPAddr(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()

		job, err := jobs.Create(ctx, st, &jobs.RetryParams{Batch: 3})
		if err != nil {
			t.Fatal(err)
		}
		if string(job.Params) != `{"statuses":["failed"],"batch":3}` {
			t.Fatalf("stored params %s", job.Params)
		}
		r, err := jobs.New(jobs.Options{Store: st, Handlers: map[string]jobs.Handler{jobs.KindRetry: jobs.Retry(st, p, nil)}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		job, err = r.RunJob(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if job.State != store.JobDone || job.Done != int64(len(failed)) || job.Total != int64(len(failed)) || job.Checkpoint != fmt.Sprint(slices.Max(failed)) {
			t.Fatalf("retry job: %+v", job)
		}
		for i, s := range sub {
			img, _ := st.GetImage(ctx, s.ID)
			want := store.StatusPending
			if i%3 == 0 {
				want = store.StatusNoFaces
			}
			if img.Status != want || (want == store.StatusPending && img.Attempts != 0) {
				t.Errorf("image %d: %s with %d attempts, want %s", s.ID, img.Status, img.Attempts, want)
			}
		}
		if got := d.Depth(); got != int64(len(failed)) {
			t.Fatalf("queue depth %d, want the %d retried ids", got, len(failed))
		}
		if _, err := jobs.Create(ctx, st, &jobs.RetryParams{Statuses: []store.Status{store.StatusProcessing}}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("retry of processing images: %v", err)
		}
	})
}
