// Package jobs runs facecluster's background jobs: long work over the whole store — bulk retries
// today; re-embedding after a model change, cluster rebuilds and re-matching, object backfill and
// retention purges as later kinds — done in batches beside the live pipeline.
//
// A job is a row in the store (store.Job): its kind, its parameters, its progress and its
// checkpoint. Any number of Runners (one per serving replica, plus the CLI running a job it
// started) claim jobs through a lease, so exactly one runs a job at a time; the runner extends
// the lease while it works and writes the checkpoint after every batch. A runner that dies
// stops extending: when the lease expires, another claims the job and resumes from the last
// checkpoint, so at most the batch in hand is done twice (a Handler's batch must be safe to
// repeat). A runner that stops cleanly gives its job back at once.
//
// Live images stay first: before each batch the runner asks Options.Load how many live images
// are waiting and holds the job back while there are more than Options.MaxLoad, for at most
// Options.MaxYield at a time (so a pipeline that is never idle still sees the job creep on).
//
// A kind is a Handler registered under its name in Options.Handlers; see docs/architecture.md,
// "Background jobs".
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/store"
)

// Handler does one kind of job, batch by batch. The runner calls it from one goroutine per job.
type Handler interface {
	// Remaining checks job.Params and estimates the work left after job.Checkpoint (the
	// progress shows Done of Done+Remaining). It is called whenever a runner starts or resumes
	// the job; an error fails the job (wrap bad parameters with Permanent — all errors of
	// Remaining fail the job, but Permanent keeps the message plain).
	Remaining(ctx context.Context, job store.Job) (int64, error)
	// Batch does the next batch after job.Checkpoint and says where the next one starts. After a
	// crash the batch since the last checkpoint runs again: it must be safe to repeat. A
	// Permanent error fails the job at once; any other is retried a few times with backoff.
	Batch(ctx context.Context, job store.Job) (Step, error)
}

// Step is what one batch did.
type Step struct {
	Checkpoint string // where the next batch starts
	Done       int64  // items this batch did (added to the job's progress)
	Finished   bool   // nothing is left: the job is done
}

// Permanent marks an error that doing the batch again will not fix (bad parameters, a kind
// that cannot work here): the job fails at once with it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// Store is what a Runner needs of *store.Store.
type Store interface {
	ClaimJob(ctx context.Context, c store.JobClaim) (store.Job, bool, error)
	CheckpointJob(ctx context.Context, id int64, owner, checkpoint string, done, total int64, lease time.Duration) (store.JobState, error)
	ExtendJobLease(ctx context.Context, id int64, owner string, lease time.Duration, throttled bool) (store.JobState, error)
	FinishJob(ctx context.Context, id int64, owner string, state store.JobState, errMsg string) error
	ReleaseJob(ctx context.Context, id int64, owner string) error
	GetJob(ctx context.Context, id int64) (store.Job, error)
}

// Defaults of Options (flags take theirs from here).
const (
	DefaultLease        = 30 * time.Second
	DefaultPoll         = 5 * time.Second
	DefaultThrottlePoll = time.Second
	DefaultMaxYield     = time.Minute
	DefaultMaxAttempts  = 5
	DefaultBatchRetries = 3
)

// Options configure New.
type Options struct {
	Store    Store              // required
	Handlers map[string]Handler // the kinds this runner runs, by name (at least one)
	// Owner names this runner in job leases; it must differ between runners (default:
	// host:pid:random).
	Owner string
	// Lease is how long a job stays this runner's without a word from it; the runner extends
	// it every Lease/3. A runner that dies holds its job this long. [30s]
	Lease time.Duration
	// Poll is how often Run looks for a job when it has none. [5s]
	Poll time.Duration
	// Load counts the live images waiting (PipelineLoad: pending and processing images); nil
	// never holds a job back.
	Load func(context.Context) (int64, error)
	// MaxLoad: a batch starts only while Load reports at most this many live images. [0]
	MaxLoad int64
	// ThrottlePoll is how often a held-back job asks Load again. [1s]
	ThrottlePoll time.Duration
	// MaxYield bounds one hold-back: after it, one batch runs anyway, so a pipeline that is
	// never idle still sees the job progress, a batch per MaxYield. [1m]
	MaxYield time.Duration
	// MaxAttempts: a job started this many times without finishing (its runners died) fails
	// instead of killing another one. [5]
	MaxAttempts int
	// BatchRetries: a batch failing with a non-permanent error is tried again this many times
	// (1s, 2s, 4s … apart) before the job fails. [3]
	BatchRetries int
	// Registerer takes the runner's metrics (MetricItems, MetricHeldBack, MetricRuns); nil: not
	// exported.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// DefaultOptions returns the defaults of every setting (no Store or Handlers).
func DefaultOptions() Options {
	return Options{Lease: DefaultLease, Poll: DefaultPoll, ThrottlePoll: DefaultThrottlePoll, MaxYield: DefaultMaxYield,
		MaxAttempts: DefaultMaxAttempts, BatchRetries: DefaultBatchRetries}
}

// Runner claims and runs jobs. Create it with New.
type Runner struct {
	opts    Options
	kinds   []string
	log     *slog.Logger
	metrics *runnerMetrics
}

// New checks the options and fills in defaults.
func New(o Options) (*Runner, error) {
	if o.Store == nil {
		return nil, errors.New("jobs: a Store is required")
	}
	if len(o.Handlers) == 0 {
		return nil, errors.New("jobs: at least one job kind (Handlers) is required")
	}
	for k, h := range o.Handlers {
		if k == "" || len(k) > store.MaxJobKindLen || h == nil {
			return nil, fmt.Errorf("jobs: kind %q needs a name of at most %d bytes and a handler", k, store.MaxJobKindLen)
		}
	}
	d := DefaultOptions()
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s:%d:%06x", host, os.Getpid(), rand.N(1<<24))
	}
	if o.Lease <= 0 {
		o.Lease = d.Lease
	}
	if o.Poll <= 0 {
		o.Poll = d.Poll
	}
	if o.ThrottlePoll <= 0 {
		o.ThrottlePoll = d.ThrottlePoll
	}
	if o.MaxYield <= 0 {
		o.MaxYield = d.MaxYield
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	if o.BatchRetries < 0 {
		o.BatchRetries = 0
	} else if o.BatchRetries == 0 {
		o.BatchRetries = d.BatchRetries
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m, err := newRunnerMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("jobs: register metrics: %w", err)
	}
	return &Runner{opts: o, kinds: slices.Sorted(maps.Keys(o.Handlers)), log: o.Logger.With("role", "jobs", "owner", o.Owner), metrics: m}, nil
}

// Owner is the name this runner's leases carry.
func (r *Runner) Owner() string { return r.opts.Owner }

// Kinds lists the kinds this runner runs, sorted.
func (r *Runner) Kinds() []string { return slices.Clone(r.kinds) }

// Run claims and runs jobs, one at a time, until ctx is done; the job in hand is then given back
// for another runner to resume.
func (r *Runner) Run(ctx context.Context) error {
	for {
		job, ok, err := r.opts.Store.ClaimJob(ctx, store.JobClaim{Owner: r.opts.Owner, Lease: r.opts.Lease, Kinds: r.kinds})
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.log.Error("looking for a background job failed; trying again", "err", err.Error())
		case ok:
			r.run(ctx, job)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.opts.Poll):
		}
	}
}

// ErrBusy: the job is being run by another runner.
var ErrBusy = errors.New("job is being run by another runner")

// RunJob runs job id here until it finishes or ctx is done (the job is then given back, for a
// serving replica to resume), and returns its row. A job already finished is returned as it
// is; one held by a live runner gives ErrBusy.
func (r *Runner) RunJob(ctx context.Context, id int64) (store.Job, error) {
	job, ok, err := r.opts.Store.ClaimJob(ctx, store.JobClaim{Owner: r.opts.Owner, Lease: r.opts.Lease, Kinds: r.kinds, ID: id})
	if err != nil {
		return store.Job{}, fmt.Errorf("jobs: claim job %d: %w", id, err)
	}
	if !ok {
		job, err := r.opts.Store.GetJob(ctx, id)
		if err != nil {
			return store.Job{}, fmt.Errorf("jobs: %w", err)
		}
		switch {
		case job.State.Final():
			return job, nil
		case r.opts.Handlers[job.Kind] == nil:
			return job, fmt.Errorf("jobs: job %d is of kind %q, which this runner does not run (it runs %v)", id, job.Kind, r.kinds)
		}
		return job, fmt.Errorf("jobs: job %d: %w (%s, lease until %s)", id, ErrBusy, job.LeaseOwner, job.LeaseExpiresAt.Format(time.RFC3339))
	}
	r.run(ctx, job)
	job, err = r.opts.Store.GetJob(context.WithoutCancel(ctx), id)
	if err != nil {
		return store.Job{}, fmt.Errorf("jobs: %w", err)
	}
	return job, nil
}

// run is one runner's turn with a claimed job: it ends with the job finished, cancelled, given
// back (ctx done) or taken over (lease lost).
func (r *Runner) run(ctx context.Context, job store.Job) {
	log := r.log.With("job_id", job.ID, "kind", job.Kind)
	// Writes about work already done go through even when ctx ends (shutdown) — but not for
	// ever: a database that does not answer leaves the lease to expire instead.
	write := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	}
	finish := func(state store.JobState, msg string) {
		wctx, cancel := write()
		defer cancel()
		if err := r.opts.Store.FinishJob(wctx, job.ID, r.opts.Owner, state, msg); err != nil {
			log.Error("recording the end of a background job failed; another runner will take it over when the lease expires", "err", err.Error())
			r.ended(job.Kind, outcomeLost)
			return
		}
		r.ended(job.Kind, string(state))
	}
	if job.Attempts > r.opts.MaxAttempts {
		msg := fmt.Sprintf("started %d times without finishing: its runners stopped or crashed (limit %d)", job.Attempts-1, r.opts.MaxAttempts)
		if job.LastError != "" {
			msg += "; last error: " + job.LastError
		}
		log.Error("background job failed", "err", msg)
		finish(store.JobFailed, msg)
		return
	}
	h := r.opts.Handlers[job.Kind]

	jobCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var throttled atomic.Bool
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		r.heartbeat(jobCtx, job.ID, &throttled, stop, log)
	}()
	defer func() { stop(nil); <-beat }()

	var left int64
	err := r.retrying(jobCtx, job, log, func() (err error) {
		left, err = h.Remaining(jobCtx, job)
		return err
	})
	if err != nil {
		if r.stopped(jobCtx, ctx, job, log) {
			return
		}
		log.Error("background job failed", "err", err.Error())
		finish(store.JobFailed, err.Error())
		return
	}
	job.Total = job.Done + left
	if job.Attempts == 1 && job.Checkpoint == "" {
		log.Info("background job started", "params", string(job.Params), "total", job.Total)
	} else {
		log.Info("background job resumed", "checkpoint", job.Checkpoint, "done", job.Done, "total", job.Total, "attempt", job.Attempts)
	}
	if !r.checkpoint(ctx, &job, log) {
		return
	}
	for {
		if err := r.holdBack(jobCtx, job, &throttled, log); err != nil {
			r.stopped(jobCtx, ctx, job, log)
			return
		}
		step, err := r.batch(jobCtx, h, job, log)
		if err != nil {
			if r.stopped(jobCtx, ctx, job, log) {
				return
			}
			log.Error("background job failed", "done", job.Done, "err", err.Error())
			finish(store.JobFailed, err.Error())
			return
		}
		r.metrics.items.WithLabelValues(job.Kind).Add(float64(step.Done))
		job.Checkpoint, job.Done = step.Checkpoint, job.Done+step.Done
		job.Total = max(job.Total, job.Done)
		if step.Finished {
			job.Total = job.Done
		}
		if !r.checkpoint(ctx, &job, log) {
			return
		}
		if step.Finished {
			finish(store.JobDone, "")
			log.Info("background job done", "done", job.Done)
			return
		}
		if jobCtx.Err() != nil {
			r.stopped(jobCtx, ctx, job, log)
			return
		}
	}
}

// ended counts a runner's turn with a job of kind by how it ended.
func (r *Runner) ended(kind, outcome string) { r.metrics.runs.WithLabelValues(kind, outcome).Inc() }

// Why a job's context ends besides the runner's own.
var (
	errCancelled = errors.New("job cancelled")
	errLeaseLost = errors.New("lease lost to another runner")
)

// stopped handles the end of a job's context: cancelled by a user (record the end), lease lost
// (nothing to write: the job is someone else's), or the runner stopping (give the job back).
// It reports false when the job's context is still live (the error was the work's own).
func (r *Runner) stopped(jobCtx, ctx context.Context, job store.Job, log *slog.Logger) bool {
	if jobCtx.Err() == nil {
		return false
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch cause := context.Cause(jobCtx); {
	case errors.Is(cause, errCancelled):
		log.Info("background job cancelled", "done", job.Done)
		r.ended(job.Kind, outcomeCancelled)
		if err := r.opts.Store.FinishJob(wctx, job.ID, r.opts.Owner, store.JobFailed, "cancelled"); err != nil && !errors.Is(err, store.ErrLeaseNotHeld) {
			log.Warn("releasing a cancelled job failed", "err", err.Error())
		}
	case errors.Is(cause, errLeaseLost):
		log.Warn("background job taken over by another runner (this one was too slow to extend its lease); stopping here", "done", job.Done)
		r.ended(job.Kind, outcomeLost)
	default:
		if err := r.opts.Store.ReleaseJob(wctx, job.ID, r.opts.Owner); err != nil {
			log.Warn("giving the background job back failed; another runner will resume it when the lease expires", "err", err.Error())
			r.ended(job.Kind, outcomeLost)
			return true
		}
		log.Info("background job given back for another runner to resume", "checkpoint", job.Checkpoint, "done", job.Done)
		r.ended(job.Kind, outcomeGivenBack)
	}
	return true
}

// checkpoint records job's progress; false means stop (cancelled, lease lost or the write
// failed — then the lease expires and the batch is done again by whoever resumes).
func (r *Runner) checkpoint(ctx context.Context, job *store.Job, log *slog.Logger) bool {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	state, err := r.opts.Store.CheckpointJob(wctx, job.ID, r.opts.Owner, job.Checkpoint, job.Done, job.Total, r.opts.Lease)
	switch {
	case errors.Is(err, store.ErrLeaseNotHeld):
		log.Warn("background job taken over by another runner; stopping here", "done", job.Done)
		r.ended(job.Kind, outcomeLost)
		return false
	case err != nil:
		log.Error("checkpointing a background job failed; it resumes from the last checkpoint when the lease expires", "err", err.Error())
		r.ended(job.Kind, outcomeLost)
		return false
	case state == store.JobCancelled:
		log.Info("background job cancelled", "done", job.Done)
		r.ended(job.Kind, outcomeCancelled)
		if err := r.opts.Store.FinishJob(wctx, job.ID, r.opts.Owner, store.JobFailed, "cancelled"); err != nil {
			log.Warn("releasing a cancelled job failed", "err", err.Error())
		}
		return false
	}
	return true
}

// heartbeat extends the lease every Lease/3 until ctx ends, and ends the job's context when the
// job was cancelled or taken over.
func (r *Runner) heartbeat(ctx context.Context, id int64, throttled *atomic.Bool, stop context.CancelCauseFunc, log *slog.Logger) {
	t := time.NewTicker(r.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		state, err := r.opts.Store.ExtendJobLease(ctx, id, r.opts.Owner, r.opts.Lease, throttled.Load())
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, store.ErrLeaseNotHeld):
			stop(errLeaseLost)
			return
		case err != nil:
			log.Warn("extending a background job's lease failed; trying again", "err", err.Error())
		case state == store.JobCancelled:
			stop(errCancelled)
			return
		}
	}
}

// holdBack waits while more than MaxLoad live images are waiting, at most MaxYield.
func (r *Runner) holdBack(ctx context.Context, job store.Job, throttled *atomic.Bool, log *slog.Logger) error {
	if r.opts.Load == nil {
		return ctx.Err()
	}
	start := time.Now()
	defer func() {
		if throttled.Swap(false) {
			r.metrics.heldBack.WithLabelValues(job.Kind).Add(time.Since(start).Seconds())
		}
	}()
	for {
		n, err := r.opts.Load(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			// Without a measure the batch runs: if the database is down it fails and is retried.
			log.Warn("counting live images failed; running the batch", "err", err.Error())
			return nil
		case n <= r.opts.MaxLoad:
			return nil
		case time.Since(start) >= r.opts.MaxYield:
			log.Info("live images kept the background job waiting for the longest hold-back; running one batch", "live_images", n, "waited", time.Since(start).Round(time.Second).String())
			return nil
		}
		if !throttled.Swap(true) {
			log.Debug("holding the background job back for live images", "live_images", n)
			// Marked at once (not at the next heartbeat) so the status page says why it waits;
			// the heartbeat notices a cancel or a takeover.
			if _, err := r.opts.Store.ExtendJobLease(ctx, job.ID, r.opts.Owner, r.opts.Lease, true); err != nil && ctx.Err() == nil {
				log.Warn("marking a background job as held back failed", "err", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.opts.ThrottlePoll):
		}
	}
}

// batch runs one batch, trying a failing one again.
func (r *Runner) batch(ctx context.Context, h Handler, job store.Job, log *slog.Logger) (Step, error) {
	var step Step
	err := r.retrying(ctx, job, log, func() (err error) {
		step, err = h.Batch(ctx, job)
		return err
	})
	if err == nil && step.Done < 0 {
		return Step{}, fmt.Errorf("jobs: %s batch reported %d items done", job.Kind, step.Done)
	}
	return step, err
}

// retrying calls fn until it succeeds, fails with a Permanent error, or has been tried again
// BatchRetries times (1s, 2s, 4s … apart).
func (r *Runner) retrying(ctx context.Context, job store.Job, log *slog.Logger, fn func() error) error {
	delay := time.Second
	for attempt := 0; ; attempt++ {
		err := safely(job, log, fn)
		var perm permanentError
		if err == nil || errors.As(err, &perm) || attempt >= r.opts.BatchRetries || ctx.Err() != nil {
			return err
		}
		log.Warn("background job step failed; trying it again", "checkpoint", job.Checkpoint, "retry_in", delay.String(), "err", err.Error())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// safely calls a handler's method, turning a panic into a Permanent error: a bug in one job kind
// fails its job instead of the process (and every role in it).
func safely(job store.Job, log *slog.Logger, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("background job handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = Permanent(fmt.Errorf("the %s job's handler panicked: %v", job.Kind, p))
		}
	}()
	return fn()
}

// PipelineLoad counts live images — pending or being processed, up to 10 000 each — as a
// Runner's Load: background jobs wait while the pipeline has work.
func PipelineLoad(st interface {
	CountImagesWithStatus(ctx context.Context, status store.Status, upTo int64) (int64, error)
}) func(context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		var n int64
		for _, s := range []store.Status{store.StatusPending, store.StatusProcessing} {
			c, err := st.CountImagesWithStatus(ctx, s, 10_000)
			if err != nil {
				return 0, err
			}
			n += c
		}
		return n, nil
	}
}
