package store

// Background jobs: the rows package jobs runs. A job is claimed by one runner at a time through
// a lease, like an image by its processor; every write a runner makes is conditional on still
// holding it, so a runner that lost its lease (it hung past the expiry and another replica took
// over) changes nothing.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// JobState is a job's place in its lifecycle: queued → running → done, failed or cancelled. A
// running job whose lease expired is claimed again (it resumes from its checkpoint).
type JobState string

const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// JobStates lists every state in lifecycle order.
var JobStates = []JobState{JobQueued, JobRunning, JobDone, JobFailed, JobCancelled}

// Final reports whether the job will not run again.
func (s JobState) Final() bool { return s == JobDone || s == JobFailed || s == JobCancelled }

// ParseJobState validates a state given by a user.
func ParseJobState(v string) (JobState, error) {
	s := JobState(strings.TrimSpace(v))
	if !slices.Contains(JobStates, s) {
		return "", fmt.Errorf("%w: unknown job state %q (want one of %v)", ErrInvalid, v, JobStates)
	}
	return s, nil
}

// MaxJobKindLen bounds a job kind's name.
const MaxJobKindLen = 64

// Job is one background job.
type Job struct {
	ID     int64
	Kind   string
	Params json.RawMessage // the kind's parameters, as submitted ("{}" when none)
	State  JobState
	// Done and Total are the progress in the kind's own unit (images, faces, …); Total is an
	// estimate, counted when a run starts, and 0 before that.
	Done, Total int64
	// Checkpoint is where the next batch starts (the kind's own format, e.g. the last image id
	// done); "" before the first batch.
	Checkpoint     string
	Attempts       int // runs started (a runner that dies mid-job leaves one behind)
	LastError      string
	LeaseOwner     string
	LeaseExpiresAt time.Time
	// ThrottledAt: since when the runner has been holding the job back for live images; zero
	// while it works.
	ThrottledAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	StartedAt   time.Time // first claimed
	FinishedAt  time.Time
}

const jobColumns = "id, kind, params, state, done, total, checkpoint, attempts, last_error, lease_owner, lease_expires_at, throttled_at, created_at, updated_at, started_at, finished_at"

func scanJob(sc scanner) (Job, error) {
	var j Job
	var params, state string
	var owner sql.NullString
	var lease, throttled, created, updated, started, finished sql.NullInt64
	if err := sc.Scan(&j.ID, &j.Kind, &params, &state, &j.Done, &j.Total, &j.Checkpoint, &j.Attempts, &j.LastError,
		&owner, &lease, &throttled, &created, &updated, &started, &finished); err != nil {
		return Job{}, err
	}
	j.Params, j.State, j.LeaseOwner = json.RawMessage(params), JobState(state), owner.String
	j.LeaseExpiresAt, j.ThrottledAt = fromMillis(lease), fromMillis(throttled)
	j.CreatedAt, j.UpdatedAt, j.StartedAt, j.FinishedAt = fromMillis(created), fromMillis(updated), fromMillis(started), fromMillis(finished)
	return j, nil
}

// CreateJob queues a job of kind with params (a JSON value; empty means {}). It checks only the
// form: whether a runner knows the kind and accepts the params is the jobs package's business.
func (s *Store) CreateJob(ctx context.Context, kind string, params json.RawMessage) (Job, error) {
	kind = strings.TrimSpace(kind)
	switch {
	case kind == "":
		return Job{}, fmt.Errorf("store: create job: %w: empty kind", ErrInvalid)
	case len(kind) > MaxJobKindLen || !utf8.ValidString(kind):
		return Job{}, fmt.Errorf("store: create job: %w: kind is not a name of at most %d bytes", ErrInvalid, MaxJobKindLen)
	}
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	if !json.Valid(params) {
		return Job{}, fmt.Errorf("store: create %s job: %w: params are not valid JSON", kind, ErrInvalid)
	}
	now := s.nowMillis()
	res, err := s.db.ExecContext(ctx, "INSERT INTO jobs (kind, params, state, checkpoint, last_error, created_at, updated_at) VALUES (?, ?, 'queued', '', '', ?, ?)",
		kind, string(params), now, now)
	if err != nil {
		return Job{}, fmt.Errorf("store: create %s job: %w", kind, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Job{}, fmt.Errorf("store: create %s job: %w", kind, err)
	}
	return s.GetJob(ctx, id)
}

// GetJob returns one job.
func (s *Store) GetJob(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = ?", id))
	if err == sql.ErrNoRows {
		return Job{}, fmt.Errorf("store: job %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("store: get job %d: %w", id, err)
	}
	return j, nil
}

// JobFilter selects jobs for ListJobs.
type JobFilter struct {
	States   []JobState // empty: all
	BeforeID int64      // only jobs with a smaller id (the previous page's last); 0: from the newest
	Limit    int        // default 50, at most 1000
}

// ListJobs returns jobs newest first.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) ([]Job, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	var where []string
	var args []any
	if len(f.States) > 0 {
		for _, st := range f.States {
			if !slices.Contains(JobStates, st) {
				return nil, fmt.Errorf("store: list jobs: %w: unknown job state %q", ErrInvalid, st)
			}
			args = append(args, string(st))
		}
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
	}
	if f.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	q := "SELECT " + jobColumns + " FROM jobs"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rs, err := s.db.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: list jobs: %w", err)
	}
	defer rs.Close()
	var out []Job
	for rs.Next() {
		j, err := scanJob(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list jobs: %w", err)
	}
	return out, nil
}

// JobClaim says which job a runner may take.
type JobClaim struct {
	Owner string        // the runner (unique per process)
	Lease time.Duration // how long the job is the owner's without a checkpoint or extension
	Kinds []string      // the kinds the runner can run (required)
	ID    int64         // only this job (0: the oldest claimable)
}

// ClaimJob gives c.Owner the oldest queued job of one of c.Kinds, or a running one whose lease
// expired (its runner died: it resumes from the checkpoint): state running, attempts+1, lease
// until now+c.Lease. ok is false, nothing written, when there is none. Each candidate is taken
// with one conditional UPDATE, so of concurrent claimers exactly one gets a job.
func (s *Store) ClaimJob(ctx context.Context, c JobClaim) (job Job, ok bool, err error) {
	if c.Owner == "" || c.Lease <= 0 || len(c.Kinds) == 0 {
		return Job{}, false, fmt.Errorf("store: claim job: %w: owner, a positive lease and kinds are required", ErrInvalid)
	}
	now := s.nowMillis()
	args := []any{now}
	for _, k := range c.Kinds {
		args = append(args, k)
	}
	q := "SELECT id FROM jobs WHERE (state = 'queued' OR (state = 'running' AND lease_expires_at < ?)) AND kind IN (" + placeholders(len(c.Kinds)) + ")"
	if c.ID > 0 {
		q += " AND id = ?"
		args = append(args, c.ID)
	}
	rs, err := s.db.QueryContext(ctx, q+" ORDER BY id LIMIT 10", args...)
	if err != nil {
		return Job{}, false, fmt.Errorf("store: claim job: %w", err)
	}
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return Job{}, false, fmt.Errorf("store: claim job: %w", err)
		}
		ids = append(ids, id)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return Job{}, false, fmt.Errorf("store: claim job: %w", err)
	}
	for _, id := range ids {
		res, err := s.db.ExecContext(ctx, `UPDATE jobs
			SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?, throttled_at = NULL,
			    started_at = COALESCE(started_at, ?), updated_at = ?
			WHERE id = ? AND (state = 'queued' OR (state = 'running' AND lease_expires_at < ?))`,
			c.Owner, now+c.Lease.Milliseconds(), now, now, id, now)
		if err != nil {
			return Job{}, false, fmt.Errorf("store: claim job %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue // another runner was quicker
		}
		j, err := s.GetJob(ctx, id)
		if err != nil {
			return Job{}, false, err
		}
		return j, true, nil
	}
	return Job{}, false, nil
}

// leasedJob runs fn in a transaction on job id if owner holds its lease: the job is running, or
// was cancelled while owner ran it (its last progress is still worth recording). fn gets the
// state; the transaction's row lock keeps a concurrent claim or cancel out until it commits.
// ErrLeaseNotHeld when another runner took the job over or it finished.
func (s *Store) leasedJob(ctx context.Context, id int64, owner, what string, fn func(tx *sql.Tx, state JobState, now int64) error) (JobState, error) {
	var state JobState
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var st string
		var holder sql.NullString
		err := tx.QueryRowContext(ctx, "SELECT state, lease_owner FROM jobs WHERE id = ?"+s.forUpdate(), id).Scan(&st, &holder)
		if err == sql.ErrNoRows {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		state = JobState(st)
		if holder.String != owner || (state != JobRunning && state != JobCancelled) {
			return ErrLeaseNotHeld
		}
		return fn(tx, state, s.nowMillis())
	})
	if err != nil {
		return "", fmt.Errorf("store: %s job %d by %s: %w", what, id, owner, err)
	}
	return state, nil
}

// CheckpointJob records a finished batch: the checkpoint the next one starts from, the progress,
// and a lease until now+lease (the throttle mark is cleared: the runner is working). It returns
// the job's state, JobCancelled telling the runner to stop; ErrLeaseNotHeld if owner lost it.
func (s *Store) CheckpointJob(ctx context.Context, id int64, owner, checkpoint string, done, total int64, lease time.Duration) (JobState, error) {
	return s.leasedJob(ctx, id, owner, "checkpoint", func(tx *sql.Tx, _ JobState, now int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET checkpoint = ?, done = ?, total = ?, lease_expires_at = ?, throttled_at = NULL, updated_at = ?
			WHERE id = ?`, checkpoint, done, total, now+lease.Milliseconds(), now, id)
		return err
	})
}

// ExtendJobLease pushes owner's lease to now+lease while a batch runs or while the runner holds
// back for live images (throttled: marked from the first such call until the next checkpoint).
// It returns the job's state like CheckpointJob.
func (s *Store) ExtendJobLease(ctx context.Context, id int64, owner string, lease time.Duration, throttled bool) (JobState, error) {
	return s.leasedJob(ctx, id, owner, "extend lease of", func(tx *sql.Tx, _ JobState, now int64) error {
		var err error
		if throttled {
			_, err = tx.ExecContext(ctx, "UPDATE jobs SET lease_expires_at = ?, throttled_at = COALESCE(throttled_at, ?), updated_at = ? WHERE id = ?",
				now+lease.Milliseconds(), now, now, id)
		} else {
			_, err = tx.ExecContext(ctx, "UPDATE jobs SET lease_expires_at = ?, throttled_at = NULL, updated_at = ? WHERE id = ?",
				now+lease.Milliseconds(), now, id)
		}
		return err
	})
}

// FinishJob ends owner's run: state JobDone, or JobFailed with errMsg. A job cancelled meanwhile
// stays cancelled (errMsg is still recorded). The lease is released either way.
func (s *Store) FinishJob(ctx context.Context, id int64, owner string, state JobState, errMsg string) error {
	if state != JobDone && state != JobFailed {
		return fmt.Errorf("store: finish job %d: %w: final state %q is neither done nor failed", id, ErrInvalid, state)
	}
	_, err := s.leasedJob(ctx, id, owner, "finish", func(tx *sql.Tx, cur JobState, now int64) error {
		if cur == JobCancelled {
			state = JobCancelled
		}
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL, throttled_at = NULL,
			finished_at = COALESCE(finished_at, ?), updated_at = ? WHERE id = ?`, string(state), errMsg, now, now, id)
		return err
	})
	return err
}

// ReleaseJob gives a running job back to the queue when its runner stops cleanly (the process
// shuts down): another replica resumes it from the checkpoint at once instead of after the lease,
// and the run is not counted as an attempt. A cancelled job just loses its lease.
func (s *Store) ReleaseJob(ctx context.Context, id int64, owner string) error {
	_, err := s.leasedJob(ctx, id, owner, "release", func(tx *sql.Tx, cur JobState, now int64) error {
		q := "UPDATE jobs SET state = 'queued', attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL, throttled_at = NULL, updated_at = ? WHERE id = ?"
		if cur == JobCancelled {
			q = "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL, throttled_at = NULL, updated_at = ? WHERE id = ?"
		}
		_, err := tx.ExecContext(ctx, q, now, id)
		return err
	})
	return err
}

// CancelJob stops a queued or running job: it becomes cancelled at once; its runner, if any,
// sees it at its next checkpoint or lease extension and stops after the batch in hand. A job
// already finished gives ErrConflict, an unknown one ErrNotFound.
func (s *Store) CancelJob(ctx context.Context, id int64) (Job, error) {
	now := s.nowMillis()
	// A live runner keeps its lease to record the batch in hand; a dead one's is cleared.
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET state = 'cancelled', throttled_at = NULL, finished_at = ?, updated_at = ?,
		lease_owner = CASE WHEN lease_expires_at < ? THEN NULL ELSE lease_owner END,
		lease_expires_at = CASE WHEN lease_expires_at < ? THEN NULL ELSE lease_expires_at END
		WHERE id = ? AND state IN ('queued', 'running')`, now, now, now, now, id)
	if err != nil {
		return Job{}, fmt.Errorf("store: cancel job %d: %w", id, err)
	}
	j, err := s.GetJob(ctx, id)
	if err != nil {
		return Job{}, fmt.Errorf("store: cancel job %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 && j.State != JobCancelled {
		return j, fmt.Errorf("store: cancel job %d: %w: it is already %s", id, ErrConflict, j.State)
	}
	return j, nil
}

// CountImagesAfter counts the images in the given statuses with ids above afterID (how much of a
// walk over them, such as a bulk retry, is left).
func (s *Store) CountImagesAfter(ctx context.Context, statuses []Status, afterID int64) (int64, error) {
	if len(statuses) == 0 {
		return 0, nil
	}
	args := make([]any, 0, len(statuses)+1)
	for _, st := range statuses {
		if !st.Valid() {
			return 0, fmt.Errorf("store: count images: %w: unknown status %q", ErrInvalid, st)
		}
		args = append(args, string(st))
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM images WHERE status IN ("+placeholders(len(statuses))+") AND id > ?", append(args, afterID)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count images: %w", err)
	}
	return n, nil
}
