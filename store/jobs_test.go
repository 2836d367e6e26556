package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestJobLifecycle(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, bad := range []struct {
			kind   string
			params string
		}{{"", "{}"}, {"retry", "{not json"}, {string(make([]byte, MaxJobKindLen+1)), "{}"}} {
			if _, err := s.CreateJob(ctx, bad.kind, json.RawMessage(bad.params)); !errors.Is(err, ErrInvalid) {
				t.Errorf("CreateJob(%q, %q): %v, want ErrInvalid", bad.kind, bad.params, err)
			}
		}
		if jobs, _ := s.ListJobs(ctx, JobFilter{}); len(jobs) != 0 {
			t.Fatalf("refused jobs were written: %+v", jobs)
		}

		j, err := s.CreateJob(ctx, "retry", json.RawMessage(`{"statuses":["failed"]}`))
		if err != nil {
			t.Fatal(err)
		}
		if j.State != JobQueued || j.Checkpoint != "" || j.Attempts != 0 || string(j.Params) != `{"statuses":["failed"]}` {
			t.Fatalf("new job %+v", j)
		}
		other, _ := s.CreateJob(ctx, "purge", nil)
		if string(other.Params) != "{}" {
			t.Fatalf("params default %q", other.Params)
		}

		claim := JobClaim{Owner: "r1", Lease: time.Minute, Kinds: []string{"retry"}}
		got, ok, err := s.ClaimJob(ctx, claim)
		if err != nil || !ok || got.ID != j.ID || got.State != JobRunning || got.LeaseOwner != "r1" || got.Attempts != 1 || got.StartedAt.IsZero() {
			t.Fatalf("claim: %+v %v %v", got, ok, err)
		}
		if _, ok, _ := s.ClaimJob(ctx, JobClaim{Owner: "r2", Lease: time.Minute, Kinds: []string{"retry"}}); ok {
			t.Fatal("a second runner claimed a held job")
		}
		if st, err := s.CheckpointJob(ctx, j.ID, "r1", "42", 10, 30, time.Minute); err != nil || st != JobRunning {
			t.Fatalf("checkpoint: %v %v", st, err)
		}
		if _, err := s.CheckpointJob(ctx, j.ID, "r2", "99", 99, 99, time.Minute); !errors.Is(err, ErrLeaseNotHeld) {
			t.Fatalf("checkpoint by a stranger: %v", err)
		}
		if _, err := s.ExtendJobLease(ctx, j.ID, "r1", time.Minute, true); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetJob(ctx, j.ID)
		if got.Checkpoint != "42" || got.Done != 10 || got.Total != 30 || got.ThrottledAt.IsZero() {
			t.Fatalf("after checkpoint and throttle: %+v", got)
		}

		// r1 dies; its lease runs out; r2 resumes from the checkpoint, and r1's late writes fail.
		base := time.Now()
		s.now = func() time.Time { return base.Add(2 * time.Minute) }
		got, ok, err = s.ClaimJob(ctx, JobClaim{Owner: "r2", Lease: time.Minute, Kinds: []string{"retry"}})
		if err != nil || !ok || got.ID != j.ID || got.Checkpoint != "42" || got.Done != 10 || got.Attempts != 2 || !got.ThrottledAt.IsZero() {
			t.Fatalf("takeover: %+v %v %v", got, ok, err)
		}
		if _, err := s.CheckpointJob(ctx, j.ID, "r1", "50", 20, 30, time.Minute); !errors.Is(err, ErrLeaseNotHeld) {
			t.Fatalf("late checkpoint of the dead runner: %v", err)
		}
		if err := s.FinishJob(ctx, j.ID, "r1", JobDone, ""); !errors.Is(err, ErrLeaseNotHeld) {
			t.Fatalf("late finish of the dead runner: %v", err)
		}

		// A clean stop gives the job back without counting the attempt.
		if err := s.ReleaseJob(ctx, j.ID, "r2"); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetJob(ctx, j.ID)
		if got.State != JobQueued || got.LeaseOwner != "" || got.Attempts != 1 || got.Checkpoint != "42" {
			t.Fatalf("released: %+v", got)
		}
		got, ok, _ = s.ClaimJob(ctx, JobClaim{Owner: "r3", Lease: time.Minute, Kinds: []string{"retry", "purge"}, ID: j.ID})
		if !ok || got.ID != j.ID {
			t.Fatalf("claim by id: %+v %v", got, ok)
		}
		if err := s.FinishJob(ctx, j.ID, "r3", JobDone, ""); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetJob(ctx, j.ID)
		if got.State != JobDone || got.LeaseOwner != "" || got.FinishedAt.IsZero() {
			t.Fatalf("finished: %+v", got)
		}
		if _, err := s.CancelJob(ctx, j.ID); !errors.Is(err, ErrConflict) {
			t.Fatalf("cancel of a done job: %v", err)
		}
		if _, err := s.CancelJob(ctx, 999999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("cancel of a missing job: %v", err)
		}

		// Cancelling a running job: its runner may still record the batch in hand, learns the
		// state, and finishing keeps it cancelled.
		got, ok, _ = s.ClaimJob(ctx, JobClaim{Owner: "r3", Lease: time.Minute, Kinds: []string{"purge"}})
		if !ok || got.ID != other.ID {
			t.Fatalf("claim purge: %+v %v", got, ok)
		}
		if c, err := s.CancelJob(ctx, other.ID); err != nil || c.State != JobCancelled {
			t.Fatalf("cancel: %+v %v", c, err)
		}
		if st, err := s.CheckpointJob(ctx, other.ID, "r3", "7", 7, 9, time.Minute); err != nil || st != JobCancelled {
			t.Fatalf("checkpoint after cancel: %v %v", st, err)
		}
		if err := s.FinishJob(ctx, other.ID, "r3", JobFailed, "stopped"); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetJob(ctx, other.ID)
		if got.State != JobCancelled || got.Done != 7 || got.LeaseOwner != "" {
			t.Fatalf("cancelled job after its runner stopped: %+v", got)
		}
		if _, ok, _ := s.ClaimJob(ctx, JobClaim{Owner: "r4", Lease: time.Minute, Kinds: []string{"retry", "purge"}}); ok {
			t.Fatal("claimed a finished job")
		}
		// Cancelling the job of a runner that died clears its lease: nobody runs it.
		dead, _ := s.CreateJob(ctx, "purge", nil)
		if _, ok, _ := s.ClaimJob(ctx, JobClaim{Owner: "r5", Lease: time.Second, Kinds: []string{"purge"}}); !ok {
			t.Fatal("claim")
		}
		s.now = func() time.Time { return base.Add(5 * time.Minute) }
		if c, err := s.CancelJob(ctx, dead.ID); err != nil || c.State != JobCancelled || c.LeaseOwner != "" || !c.LeaseExpiresAt.IsZero() {
			t.Fatalf("cancel of a dead runner's job: %+v %v", c, err)
		}

		jobs, err := s.ListJobs(ctx, JobFilter{})
		if err != nil || len(jobs) != 3 || jobs[1].ID != other.ID {
			t.Fatalf("list: %+v %v", jobs, err)
		}
		jobs, _ = s.ListJobs(ctx, JobFilter{States: []JobState{JobDone}})
		if len(jobs) != 1 || jobs[0].ID != j.ID {
			t.Fatalf("list done: %+v", jobs)
		}
		jobs, _ = s.ListJobs(ctx, JobFilter{BeforeID: other.ID})
		if len(jobs) != 1 || jobs[0].ID != j.ID {
			t.Fatalf("list before: %+v", jobs)
		}
		if _, err := s.ListJobs(ctx, JobFilter{States: []JobState{"lost"}}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("list with a bad state: %v", err)
		}
	})
}

func TestConcurrentJobClaimsHaveOneWinner(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const jobs = 3
		for range jobs {
			if _, err := s.CreateJob(ctx, "retry", nil); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		owners := map[int64][]string{}
		for w := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("r%d", w)
				j, ok, err := s.ClaimJob(ctx, JobClaim{Owner: owner, Lease: time.Minute, Kinds: []string{"retry"}})
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					owners[j.ID] = append(owners[j.ID], owner)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(owners) != jobs {
			t.Fatalf("%d of %d jobs claimed: %v", len(owners), jobs, owners)
		}
		for id, o := range owners {
			j, _ := s.GetJob(ctx, id)
			if len(o) != 1 || j.LeaseOwner != o[0] || j.Attempts != 1 {
				t.Fatalf("job %d claimed by %v, row says %q after %d attempts", id, o, j.LeaseOwner, j.Attempts)
			}
		}
	})
}

func TestCountImagesAfter(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a, b := submitOne(t, s, "/a.jpg"), submitOne(t, s, "/b.jpg")
		for _, tc := range []struct {
			after int64
			want  int64
		}{{0, 2}, {a, 1}, {b, 0}} {
			if n, err := s.CountImagesAfter(ctx, []Status{StatusPending}, tc.after); err != nil || n != tc.want {
				t.Errorf("after %d: %d %v, want %d", tc.after, n, err, tc.want)
			}
		}
		if n, _ := s.CountImagesAfter(ctx, []Status{StatusFailed}, 0); n != 0 {
			t.Errorf("failed: %d", n)
		}
	})
}
