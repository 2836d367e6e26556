package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/store"
)

// database is one fresh, migrated database; open gives another connection pool to it, the way a
// second replica (or the restarted process) would connect.
type database struct {
	opts store.Options
}

func newDatabase(t *testing.T, driver string) database {
	t.Helper()
	opts := store.Options{Driver: driver, Logger: slog.New(slog.DiscardHandler)}
	if driver == store.DriverSQLite {
		opts.DSN = filepath.Join(t.TempDir(), "facecluster.db")
	} else {
		opts.DSN = testutil.MySQLDSN(t)
	}
	db := database{opts}
	if err := db.open(t).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func (d database) open(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), d.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func eachDriver(t *testing.T, fn func(t *testing.T, db database)) {
	for _, d := range []string{store.DriverSQLite, store.DriverMySQL} {
		t.Run(d, func(t *testing.T) { fn(t, newDatabase(t, d)) })
	}
}

// counting is a job kind for the runner's own tests: it walks the items 1..N in batches, its
// checkpoint the last item done, and records every item it does, so a test sees exactly what
// was done and how often.
type counting struct {
	mu     sync.Mutex
	done   map[int]int    // item → times done
	doneBy map[int]string // item → runner of its last doing
	// inFlight per job: two runners in one job's batch at once is the failure to catch.
	inFlight sync.Map // job id → *atomic.Int32
	overlaps atomic.Int32
	// hook, when set, runs before a batch's items are recorded (in tests that stop a runner
	// mid-batch or slow it down).
	hook func(ctx context.Context, owner string, job store.Job, items []int) error
}

type countParams struct {
	N     int `json:"n"`
	Batch int `json:"batch"`
}

func newCounting() *counting { return &counting{done: map[int]int{}, doneBy: map[int]string{}} }

// handler is the kind as one runner (owner) runs it.
func (c *counting) handler(owner string) jobs.Handler { return countingHandler{c, owner} }

type countingHandler struct {
	c     *counting
	owner string
}

func (h countingHandler) parse(job store.Job) (countParams, int, error) {
	var p countParams
	if err := json.Unmarshal(job.Params, &p); err != nil || p.N <= 0 || p.Batch <= 0 {
		return p, 0, jobs.Permanent(fmt.Errorf("bad params %s", job.Params))
	}
	after := 0
	if job.Checkpoint != "" {
		after, _ = strconv.Atoi(job.Checkpoint)
	}
	return p, after, nil
}

func (h countingHandler) Remaining(_ context.Context, job store.Job) (int64, error) {
	p, after, err := h.parse(job)
	return int64(p.N - after), err
}

func (h countingHandler) Batch(ctx context.Context, job store.Job) (jobs.Step, error) {
	p, after, err := h.parse(job)
	if err != nil {
		return jobs.Step{}, err
	}
	v, _ := h.c.inFlight.LoadOrStore(job.ID, new(atomic.Int32))
	n := v.(*atomic.Int32)
	if n.Add(1) > 1 {
		h.c.overlaps.Add(1)
	}
	defer n.Add(-1)
	var items []int
	for i := after + 1; i <= min(after+p.Batch, p.N); i++ {
		items = append(items, i)
	}
	if h.c.hook != nil {
		if err := h.c.hook(ctx, h.owner, job, items); err != nil {
			return jobs.Step{}, err
		}
	}
	h.c.mu.Lock()
	for _, i := range items {
		h.c.done[i+1000*int(job.ID)]++
		h.c.doneBy[i+1000*int(job.ID)] = h.owner
	}
	h.c.mu.Unlock()
	last := after + len(items)
	return jobs.Step{Checkpoint: strconv.Itoa(last), Done: int64(len(items)), Finished: last >= p.N}, nil
}

func (c *counting) times(job int64, item int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done[item+1000*int(job)]
}

func newRunner(t *testing.T, st jobs.Store, owner string, c *counting, tweak func(*jobs.Options)) *jobs.Runner {
	t.Helper()
	o := jobs.Options{
		Store: st, Owner: owner, Handlers: map[string]jobs.Handler{"count": c.handler(owner)},
		Lease: time.Second, Poll: 50 * time.Millisecond, ThrottlePoll: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
	if tweak != nil {
		tweak(&o)
	}
	r, err := jobs.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func createCount(t *testing.T, st *store.Store, n, batch int) store.Job {
	t.Helper()
	j, err := st.CreateJob(context.Background(), "count", json.RawMessage(fmt.Sprintf(`{"n":%d,"batch":%d}`, n, batch)))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// waitJob polls job id until cond holds.
func waitJob(t *testing.T, st *store.Store, id int64, what string, cond func(store.Job) bool) store.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := st.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d never %s: %+v", id, what, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runInBackground(t *testing.T, r *jobs.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// A runner that dies in the middle of a job (its process gone: no more writes, context ended)
// leaves the job to another runner, which takes it over once the lease has expired and resumes
// from the last checkpoint: only the batch in hand at the crash is done twice.
func TestCrashResume(t *testing.T) {
	eachDriver(t, func(t *testing.T, db database) {
		c := newCounting()
		stA, stB := db.open(t), db.open(t)
		job := createCount(t, stB, 50, 5)

		inFourth := make(chan struct{})
		var bStarted time.Time
		c.hook = func(ctx context.Context, owner string, job store.Job, items []int) error {
			c.mu.Lock()
			if owner == "b" && bStarted.IsZero() {
				bStarted = time.Now()
			}
			c.mu.Unlock()
			if owner == "a" && items[0] == 16 { // the fourth batch: A dies in it
				c.mu.Lock()
				for _, i := range items[:3] { // some of the batch's work reached the world
					c.done[i+1000*int(job.ID)]++
				}
				c.mu.Unlock()
				close(inFourth)
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
		a := newRunner(t, stA, "a", c, nil)
		stopA := runInBackground(t, a)
		<-inFourth
		waitJob(t, stB, job.ID, "checkpointed at 15", func(j store.Job) bool { return j.Checkpoint == "15" })
		// The crash: A's database connections die with the process, then everything else.
		stA.Close()
		stopA()

		held, _ := stB.GetJob(context.Background(), job.ID)
		if held.State != store.JobRunning || held.LeaseOwner != "a" || held.Done != 15 {
			t.Fatalf("after the crash: %+v", held)
		}
		b := newRunner(t, stB, "b", c, nil)
		runInBackground(t, b)
		j := waitJob(t, stB, job.ID, "done", func(j store.Job) bool { return j.State.Final() })
		if j.State != store.JobDone || j.Done != 50 || j.Total != 50 || j.Attempts != 2 || j.LeaseOwner != "" {
			t.Fatalf("resumed job: %+v", j)
		}
		c.mu.Lock()
		resumedAt := bStarted
		c.mu.Unlock()
		if resumedAt.Before(held.LeaseExpiresAt) {
			t.Fatalf("B started at %v, before A's lease ran out at %v", resumedAt, held.LeaseExpiresAt)
		}
		for i := 1; i <= 50; i++ {
			want := 1
			if i >= 16 && i <= 18 { // done by A before it crashed, and again by B
				want = 2
			}
			if got := c.times(job.ID, i); got != want {
				t.Errorf("item %d done %d times, want %d", i, got, want)
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for i := 21; i <= 50; i++ {
			if by := c.doneBy[i+1000*int(job.ID)]; by != "b" {
				t.Errorf("item %d done by %q after the crash", i, by)
			}
		}
	})
}

// A runner that stops cleanly gives its job back at once: the next one resumes without waiting
// for the lease, and the stop does not count as an attempt.
func TestStopGivesTheJobBack(t *testing.T) {
	eachDriver(t, func(t *testing.T, db database) {
		c := newCounting()
		st := db.open(t)
		job := createCount(t, st, 40, 2)
		c.hook = func(ctx context.Context, _ string, _ store.Job, _ []int) error {
			select { // slow enough to stop in the middle
			case <-time.After(10 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		reg := prometheus.NewRegistry()
		a := newRunner(t, st, "a", c, func(o *jobs.Options) { o.Lease, o.Registerer = time.Hour, reg })
		stopA := runInBackground(t, a)
		waitJob(t, st, job.ID, "half way", func(j store.Job) bool { return j.Done >= 10 })
		stopA()
		j, _ := st.GetJob(context.Background(), job.ID)
		if j.State != store.JobQueued || j.LeaseOwner != "" || j.Attempts != 0 || j.Done == 0 || j.Done == 40 {
			t.Fatalf("after a clean stop: %+v", j)
		}
		if n := counter(t, reg, jobs.MetricRuns, "count", "given_back"); n != 1 {
			t.Errorf("%s{outcome=given_back} = %v, want 1", jobs.MetricRuns, n)
		}
		if n := counter(t, reg, jobs.MetricItems, "count"); n != float64(j.Done) {
			t.Errorf("%s = %v, want the %d items done", jobs.MetricItems, n, j.Done)
		}
		b := newRunner(t, st, "b", c, func(o *jobs.Options) { o.Lease = time.Hour })
		runInBackground(t, b)
		j = waitJob(t, st, job.ID, "done", func(j store.Job) bool { return j.State.Final() })
		if j.State != store.JobDone || j.Done != 40 || j.Attempts != 1 {
			t.Fatalf("resumed: %+v", j)
		}
		for i := 1; i <= 40; i++ {
			if got := c.times(job.ID, i); got != 1 {
				t.Errorf("item %d done %d times", i, got)
			}
		}
	})
}

// Two runners working the same jobs never run one job at once, and every item is done once.
func TestTwoRunnersNeverRunTheSameJob(t *testing.T) {
	eachDriver(t, func(t *testing.T, db database) {
		c := newCounting()
		c.hook = func(context.Context, string, store.Job, []int) error {
			time.Sleep(3 * time.Millisecond) // room for the other runner to collide
			return nil
		}
		st := db.open(t)
		var ids []int64
		for range 6 {
			ids = append(ids, createCount(t, st, 20, 2).ID)
		}
		runInBackground(t, newRunner(t, db.open(t), "a", c, nil))
		runInBackground(t, newRunner(t, db.open(t), "b", c, nil))
		owners := map[string]bool{}
		for _, id := range ids {
			j := waitJob(t, st, id, "done", func(j store.Job) bool { return j.State.Final() })
			if j.State != store.JobDone || j.Done != 20 || j.Attempts != 1 {
				t.Errorf("job %d: %+v", id, j)
			}
			for i := 1; i <= 20; i++ {
				if n := c.times(id, i); n != 1 {
					t.Errorf("job %d item %d done %d times", id, i, n)
				}
			}
			c.mu.Lock()
			owners[c.doneBy[1+1000*int(id)]] = true
			c.mu.Unlock()
		}
		if n := c.overlaps.Load(); n != 0 {
			t.Fatalf("%d batches ran while another runner was in the same job", n)
		}
		t.Logf("jobs run by %v", owners)
	})
}

// While live images wait, the runner holds the job back (marked throttled, lease kept); when
// they are done, the job runs. With images that never go away, MaxYield lets one batch through
// per hold-back.
func TestThrottleYieldsToLiveImages(t *testing.T) {
	eachDriver(t, func(t *testing.T, db database) {
		ctx := context.Background()
		st := db.open(t)
		sub, err := st.SubmitImages(ctx, []store.NewImage{{Source: "/live/a.jpg"}, {Source: "/live/b.jpg"}})
		if err != nil {
			t.Fatal(err)
		}
		c := newCounting()
		job := createCount(t, st, 6, 2)
		reg := prometheus.NewRegistry()
		r := newRunner(t, st, "a", c, func(o *jobs.Options) {
			o.Load, o.MaxYield, o.Lease, o.Registerer = jobs.PipelineLoad(st), time.Hour, 600*time.Millisecond, reg
		})
		stopA := runInBackground(t, r)
		j := waitJob(t, st, job.ID, "held back", func(j store.Job) bool { return !j.ThrottledAt.IsZero() })
		time.Sleep(1500 * time.Millisecond) // longer than the lease: it must be extended meanwhile
		if j, _ = st.GetJob(ctx, job.ID); j.Done != 0 || j.State != store.JobRunning || j.ThrottledAt.IsZero() {
			t.Fatalf("job ran while images were pending: %+v", j)
		}
		if _, ok, _ := st.ClaimJob(ctx, store.JobClaim{Owner: "b", Lease: time.Minute, Kinds: []string{"count"}}); ok {
			t.Fatal("a held-back job's lease expired: another runner took it")
		}
		// The pipeline works the live images off: one is being processed, still live…
		if ok, _ := st.ClaimImage(ctx, sub[0].ID, "p", time.Minute); !ok {
			t.Fatal("claim image")
		}
		if _, err := st.RecordOutcome(ctx, sub[0].ID, "p", store.Outcome{}); err != nil {
			t.Fatal(err)
		}
		st.ClaimImage(ctx, sub[1].ID, "p", time.Minute)
		time.Sleep(200 * time.Millisecond)
		if j, _ = st.GetJob(ctx, job.ID); j.Done != 0 {
			t.Fatalf("job ran while an image was processing: %+v", j)
		}
		if _, err := st.RecordOutcome(ctx, sub[1].ID, "p", store.Outcome{}); err != nil {
			t.Fatal(err)
		}
		j = waitJob(t, st, job.ID, "done", func(j store.Job) bool { return j.State.Final() })
		if j.State != store.JobDone || j.Done != 6 || !j.ThrottledAt.IsZero() {
			t.Fatalf("after the live images: %+v", j)
		}
		if s := counter(t, reg, jobs.MetricHeldBack, "count"); s < 1.7 {
			t.Errorf("%s = %.2fs, want the ≥ 1.7 s the job waited", jobs.MetricHeldBack, s)
		}
		if n := counter(t, reg, jobs.MetricRuns, "count", "done"); n != 1 {
			t.Errorf("%s{outcome=done} = %v", jobs.MetricRuns, n)
		}

		stopA()

		// A pipeline that never empties: a batch per MaxYield.
		if _, err := st.SubmitImages(ctx, []store.NewImage{{Source: "/live/c.jpg"}}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var starts []time.Time
		c2 := newCounting()
		c2.hook = func(context.Context, string, store.Job, []int) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			return nil
		}
		const maxYield = 300 * time.Millisecond
		job2 := createCount(t, st, 3, 1)
		began := time.Now()
		runInBackground(t, newRunner(t, st, "c", c2, func(o *jobs.Options) {
			o.Load, o.MaxYield = jobs.PipelineLoad(st), maxYield
		}))
		j = waitJob(t, st, job2.ID, "done", func(j store.Job) bool { return j.State.Final() })
		if j.State != store.JobDone || j.Done != 3 {
			t.Fatalf("busy pipeline: %+v", j)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, s := range starts {
			prev := began
			if i > 0 {
				prev = starts[i-1]
			}
			if gap := s.Sub(prev); gap < maxYield {
				t.Errorf("batch %d started %v after the previous one, before MaxYield %v", i, gap, maxYield)
			}
		}
	})
}

// Cancelling a running job stops it after the batch in hand; the runner goes on with other jobs.
func TestCancelRunningJob(t *testing.T) {
	eachDriver(t, func(t *testing.T, db database) {
		ctx := context.Background()
		st := db.open(t)
		c := newCounting()
		c.hook = func(context.Context, string, store.Job, []int) error {
			time.Sleep(20 * time.Millisecond)
			return nil
		}
		job := createCount(t, st, 1000, 1)
		runInBackground(t, newRunner(t, st, "a", c, func(o *jobs.Options) { o.Lease = 300 * time.Millisecond }))
		waitJob(t, st, job.ID, "started", func(j store.Job) bool { return j.Done >= 3 })
		if _, err := st.CancelJob(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
		j := waitJob(t, st, job.ID, "released", func(j store.Job) bool { return j.LeaseOwner == "" })
		if j.State != store.JobCancelled || j.Done >= 1000 {
			t.Fatalf("cancelled job: %+v", j)
		}
		time.Sleep(300 * time.Millisecond)
		if again, _ := st.GetJob(ctx, job.ID); again.Done != j.Done || again.State != store.JobCancelled {
			t.Fatalf("cancelled job went on: %+v → %+v", j, again)
		}
		next := createCount(t, st, 3, 1)
		if j := waitJob(t, st, next.ID, "done", func(j store.Job) bool { return j.State.Final() }); j.State != store.JobDone {
			t.Fatalf("the job after a cancel: %+v", j)
		}
	})
}

// A job that was started too often without finishing (it kills its runners) fails instead of
// taking down another; one with bad parameters fails with the reason; a failing batch is tried
// again before the job fails.
func TestFailures(t *testing.T) {
	eachDriver(t, func(t *testing.T, db database) {
		ctx := context.Background()
		st := db.open(t)
		c := newCounting()
		poison := createCount(t, st, 10, 1)
		for i := range 3 {
			j, ok, err := st.ClaimJob(ctx, store.JobClaim{Owner: fmt.Sprintf("dead%d", i), Lease: time.Millisecond, Kinds: []string{"count"}})
			if err != nil || !ok || j.ID != poison.ID {
				t.Fatal(j, ok, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		r := newRunner(t, st, "a", c, func(o *jobs.Options) { o.MaxAttempts = 3 })
		j, err := r.RunJob(ctx, poison.ID)
		if err != nil || j.State != store.JobFailed || !strings.Contains(j.LastError, "started 3 times without finishing") || c.times(poison.ID, 1) != 0 {
			t.Fatalf("poison job: %+v %v", j, err)
		}

		bad, _ := st.CreateJob(ctx, "count", json.RawMessage(`{"n":0}`))
		if j, err := r.RunJob(ctx, bad.ID); err != nil || j.State != store.JobFailed || !strings.Contains(j.LastError, "bad params") {
			t.Fatalf("bad params: %+v %v", j, err)
		}

		var calls atomic.Int32
		c.hook = func(context.Context, string, store.Job, []int) error {
			if calls.Add(1) <= 2 {
				return errors.New("database hiccup")
			}
			return nil
		}
		flaky := createCount(t, st, 2, 2)
		if j, err := r.RunJob(ctx, flaky.ID); err != nil || j.State != store.JobDone || j.Done != 2 || calls.Load() != 3 {
			t.Fatalf("flaky batch: %+v %v after %d calls", j, err, calls.Load())
		}
		c.hook = func(context.Context, string, store.Job, []int) error { return errors.New("disk on fire") }
		broken := createCount(t, st, 2, 2)
		r2 := newRunner(t, st, "b", c, func(o *jobs.Options) { o.BatchRetries = -1 })
		if j, err := r2.RunJob(ctx, broken.ID); err != nil || j.State != store.JobFailed || j.LastError != "disk on fire" {
			t.Fatalf("broken batch: %+v %v", j, err)
		}

		c.hook = func(context.Context, string, store.Job, []int) error { panic("index out of range") }
		buggy := createCount(t, st, 2, 2)
		if j, err := r.RunJob(ctx, buggy.ID); err != nil || j.State != store.JobFailed || !strings.Contains(j.LastError, "handler panicked: index out of range") {
			t.Fatalf("panicking batch: %+v %v", j, err)
		}

		// A job held by a live runner is not run twice.
		held := createCount(t, st, 2, 2)
		if _, ok, _ := st.ClaimJob(ctx, store.JobClaim{Owner: "other", Lease: time.Hour, Kinds: []string{"count"}, ID: held.ID}); !ok {
			t.Fatal("claim")
		}
		if _, err := r.RunJob(ctx, held.ID); !errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("run of a held job: %v", err)
		}
	})
}

// counter reads a registered counter by name and label values (in label order).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetValue())
			}
			if slices.Equal(got, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s%v registered", name, labels)
	return 0
}
