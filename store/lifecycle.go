package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// DefaultMaxAttempts is how many attempts an image gets before it is failed, unless configured
// otherwise (--max-attempts): the default of both roles that pass a limit to the store, the
// processor (RecordFailure) and the reconciler (ExpireLeases). It lives here, below both, so that
// it has one owner.
const DefaultMaxAttempts = 5

// ClaimImage lets owner process image id: pending (or processing whose lease has expired) →
// processing, attempts+1, lease until now+lease. It reports false, writing nothing, when another
// owner holds a live lease, the image is final, or it does not exist (GetImage tells which).
// One conditional UPDATE: of concurrent claimers exactly one wins.
func (s *Store) ClaimImage(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error) {
	if owner == "" || lease <= 0 {
		return false, fmt.Errorf("store: claim image %d: %w: owner and a positive lease are required", id, ErrInvalid)
	}
	now := s.nowMillis()
	res, err := s.db.ExecContext(ctx, `UPDATE images
		SET status = 'processing', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?, updated_at = ?
		WHERE id = ? AND (status = 'pending' OR (status = 'processing' AND lease_expires_at < ?))`,
		owner, now+lease.Milliseconds(), now, id, now)
	if err != nil {
		return false, fmt.Errorf("store: claim image %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: claim image %d: %w", id, err)
	}
	return n == 1, nil
}

// ExtendLease pushes owner's lease on image id to now+lease (for long-running work).
// ErrLeaseNotHeld if owner no longer holds it.
func (s *Store) ExtendLease(ctx context.Context, id int64, owner string, lease time.Duration) error {
	now := s.nowMillis()
	res, err := s.db.ExecContext(ctx, `UPDATE images SET lease_expires_at = ?, updated_at = ?
		WHERE id = ? AND status = 'processing' AND lease_owner = ?`, now+lease.Milliseconds(), now, id, owner)
	if err != nil {
		return fmt.Errorf("store: extend lease of image %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: extend lease of image %d for %s: %w", id, owner, ErrLeaseNotHeld)
	}
	return nil
}

// Outcome is the result of processing one image.
type Outcome struct {
	// Status is StatusProcessed, StatusUnidentified or StatusNoFaces; empty derives it from Faces
	// (no faces → no_faces, any known face → processed, else unidentified). A status that
	// contradicts Faces is refused.
	Status Status
	// Faces replace any faces recorded for the image before (idempotent on redelivery).
	// Idx is taken from the position in the slice; ID, ImageID, Person and CreatedAt are ignored.
	Faces []Face
	// Optional image facts learnt while decoding (kept when zero).
	ContentHash   string
	Width, Height int
}

func (o *Outcome) validate() error {
	known := false
	seen := map[int64]bool{}
	for i, f := range o.Faces {
		if f.Descriptor != nil {
			if err := validDescriptor(f.Descriptor); err != nil {
				return fmt.Errorf("face %d: %w", i, err)
			}
		}
		if len(f.Model) > 255 {
			return fmt.Errorf("%w: face %d: model version longer than 255 bytes", ErrInvalid, i)
		}
		if f.PersonID < 0 {
			return fmt.Errorf("%w: face %d: negative person id", ErrInvalid, i)
		}
		if f.PersonID != 0 {
			if seen[f.PersonID] {
				return fmt.Errorf("%w: person %d assigned to two faces of one image", ErrInvalid, f.PersonID)
			}
			seen[f.PersonID] = true
			known = true
		}
		for _, v := range []float64{f.Box.X, f.Box.Y, f.Box.W, f.Box.H, f.Score} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: face %d: box or score is NaN or Inf", ErrInvalid, i)
			}
		}
	}
	want := StatusUnidentified
	switch {
	case len(o.Faces) == 0:
		want = StatusNoFaces
	case known:
		want = StatusProcessed
	}
	if o.Status == "" {
		o.Status = want
	}
	if o.Status != want {
		return fmt.Errorf("%w: outcome status %q contradicts its %d faces (want %q)", ErrInvalid, o.Status, len(o.Faces), want)
	}
	return nil
}

// RecordOutcome stores the faces of image id and its final status, clearing the lease, in one
// transaction — only if owner still holds the lease (else ErrLeaseNotHeld, nothing written).
// A person that no longer exists (deleted meanwhile) is recorded as unknown, so the status
// returned, the one stored, can be StatusUnidentified where the outcome said StatusProcessed.
func (s *Store) RecordOutcome(ctx context.Context, id int64, owner string, out Outcome) (Status, error) {
	out.Faces = slices.Clone(out.Faces) // faces of deleted people are made unknown below, not in the caller's slice
	if err := out.validate(); err != nil {
		return "", fmt.Errorf("store: record outcome of image %d: %w", id, err)
	}
	var status Status
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.nowMillis()
		var held int
		err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM images WHERE id = ? AND status = 'processing' AND lease_owner = ?"+s.forUpdate(), id, owner).Scan(&held)
		if err != nil {
			return fmt.Errorf("check lease: %w", err)
		}
		if held == 0 {
			return ErrLeaseNotHeld
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM faces WHERE image_id = ?", id); err != nil {
			return fmt.Errorf("replace faces: %w", err)
		}
		status = out.Status
		if len(out.Faces) > 0 {
			if err := s.dropMissingPeople(ctx, tx, out.Faces); err != nil {
				return err
			}
			if status == StatusProcessed && !anyKnown(out.Faces) {
				status = StatusUnidentified
			}
			var sb strings.Builder
			sb.WriteString("INSERT INTO faces (image_id, idx, x, y, w, h, score, landmarks, descriptor, model, person_id, distance, created_at) VALUES ")
			args := make([]any, 0, 13*len(out.Faces))
			for i, f := range out.Faces {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				lm := []byte("[]")
				if len(f.Landmarks) > 0 {
					lm, _ = json.Marshal(f.Landmarks)
				}
				var desc, person, dist any
				model := ""
				if f.Descriptor != nil {
					desc, model = EncodeDescriptor(f.Descriptor), f.Model
				}
				if f.PersonID != 0 {
					person = f.PersonID
				}
				if !math.IsNaN(f.Distance) && !math.IsInf(f.Distance, 0) {
					dist = f.Distance
				}
				args = append(args, id, i, f.Box.X, f.Box.Y, f.Box.W, f.Box.H, f.Score, string(lm), desc, model, person, dist, now)
			}
			if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
				return fmt.Errorf("insert faces: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE images SET status = ?, last_error = '', lease_owner = NULL, lease_expires_at = NULL,
			updated_at = ?, processed_at = ?,
			content_hash = CASE WHEN ? = '' THEN content_hash ELSE ? END,
			width = CASE WHEN ? = 0 THEN width ELSE ? END, height = CASE WHEN ? = 0 THEN height ELSE ? END
			WHERE id = ?`, string(status), now, now, out.ContentHash, out.ContentHash, out.Width, out.Width, out.Height, out.Height, id)
		if err != nil {
			return fmt.Errorf("update image: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: record outcome of image %d by %s: %w", id, owner, err)
	}
	return status, nil
}

func anyKnown(faces []Face) bool {
	for _, f := range faces {
		if f.PersonID != 0 {
			return true
		}
	}
	return false
}

// dropMissingPeople turns faces matched to people deleted since the gallery was loaded into
// unknown faces (instead of failing the whole outcome on the foreign key).
func (s *Store) dropMissingPeople(ctx context.Context, tx *sql.Tx, faces []Face) error {
	var ids []any
	for _, f := range faces {
		if f.PersonID != 0 {
			ids = append(ids, f.PersonID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	found, err := queryIDs(ctx, tx, "SELECT id FROM people WHERE id IN ("+placeholders(len(ids))+")", ids...)
	if err != nil {
		return fmt.Errorf("check matched people: %w", err)
	}
	for i := range faces {
		if faces[i].PersonID != 0 && !slices.Contains(found, faces[i].PersonID) {
			faces[i].PersonID = 0
		}
	}
	return nil
}

// RecordFailure records that owner failed to process image id: back to pending for a retry, or
// failed when permanent or when attempts reached maxAttempts (0: no limit). The reason is kept
// as last_error. It returns the new status; ErrLeaseNotHeld (nothing written) if owner no longer
// holds the lease.
func (s *Store) RecordFailure(ctx context.Context, id int64, owner, reason string, permanent bool, maxAttempts int) (Status, error) {
	if len(reason) > 2000 {
		reason = reason[:2000]
	}
	now := s.nowMillis()
	limit := maxAttempts
	if limit <= 0 {
		limit = math.MaxInt32
	}
	perm := 0
	if permanent {
		perm = 1
	}
	var status Status
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE images
			SET status = CASE WHEN ? = 1 OR attempts >= ? THEN 'failed' ELSE 'pending' END,
			    last_error = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?,
			    processed_at = CASE WHEN ? = 1 OR attempts >= ? THEN ? ELSE processed_at END
			WHERE id = ? AND status = 'processing' AND lease_owner = ?`,
			perm, limit, reason, now, perm, limit, now, id, owner)
		if err != nil {
			return fmt.Errorf("update image: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrLeaseNotHeld
		}
		var st string
		if err := tx.QueryRowContext(ctx, "SELECT status FROM images WHERE id = ?", id).Scan(&st); err != nil {
			return fmt.Errorf("read status: %w", err)
		}
		status = Status(st)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: record failure of image %d by %s: %w", id, owner, err)
	}
	return status, nil
}

// StalePending returns up to limit images pending since before now-olderThan (their publish was
// lost or their message dropped) and marks them as just touched, so the next reconciler pass
// does not republish them again before another olderThan has gone by.
func (s *Store) StalePending(ctx context.Context, olderThan time.Duration, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 1000
	}
	var ids []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.nowMillis()
		var err error
		ids, err = queryIDs(ctx, tx, "SELECT id FROM images WHERE status = 'pending' AND updated_at < ? ORDER BY updated_at LIMIT ?"+s.forUpdate(), now-olderThan.Milliseconds(), limit)
		if err != nil {
			return fmt.Errorf("select: %w", err)
		}
		return touch(ctx, tx, ids, now, "status = 'pending'")
	})
	if err != nil {
		return nil, fmt.Errorf("store: stale pending images: %w", err)
	}
	return ids, nil
}

func touch(ctx context.Context, tx *sql.Tx, ids []int64, now int64, cond string) error {
	return inChunks(ids, func(in string, args []any) error {
		if _, err := tx.ExecContext(ctx, "UPDATE images SET updated_at = ? WHERE "+cond+" AND id IN ("+in+")", append([]any{now}, args...)...); err != nil {
			return fmt.Errorf("touch: %w", err)
		}
		return nil
	})
}

// ExpiredLeases is what ExpireLeases did.
type ExpiredLeases struct {
	Requeued []int64 // back to pending: publish them again
	Failed   []int64 // attempts exhausted: now failed
}

// ExpireLeases returns images whose processing lease ran out before now (their processor died
// or hung) to pending, or to failed when they already had maxAttempts attempts (0: no limit) —
// an image that kills its processor every time must not loop forever.
func (s *Store) ExpireLeases(ctx context.Context, now time.Time, maxAttempts int) (ExpiredLeases, error) {
	var out ExpiredLeases
	ms := now.UnixMilli()
	ids, err := queryIDs(ctx, s.db, "SELECT id FROM images WHERE status = 'processing' AND lease_expires_at < ? LIMIT 10000", ms)
	if err != nil {
		return out, fmt.Errorf("store: expire leases: %w", err)
	}
	limit := maxAttempts
	if limit <= 0 {
		limit = math.MaxInt32
	}
	// One conditional UPDATE per image: a processor finishing at this moment wins or loses
	// cleanly, and only rows really changed are reported.
	for _, id := range ids {
		res, err := s.db.ExecContext(ctx, `UPDATE images SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL,
			last_error = ?, updated_at = ?, processed_at = ?
			WHERE id = ? AND status = 'processing' AND lease_expires_at < ? AND attempts >= ?`,
			fmt.Sprintf("processing lease expired after %d attempts", limit), s.nowMillis(), s.nowMillis(), id, ms, limit)
		if err != nil {
			return out, fmt.Errorf("store: expire lease of image %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out.Failed = append(out.Failed, id)
			continue
		}
		res, err = s.db.ExecContext(ctx, `UPDATE images SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
			last_error = 'processing lease expired', updated_at = ?
			WHERE id = ? AND status = 'processing' AND lease_expires_at < ?`, s.nowMillis(), id, ms)
		if err != nil {
			return out, fmt.Errorf("store: expire lease of image %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out.Requeued = append(out.Requeued, id)
		}
	}
	return out, nil
}

// RetryImages sets up to limit images in the given statuses (default: failed) back to pending
// with attempts reset and returns their ids (publish them). Images being processed are never
// taken from their processor: StatusProcessing is refused.
func (s *Store) RetryImages(ctx context.Context, statuses []Status, limit int) ([]int64, error) {
	return s.RetryImagesAfter(ctx, statuses, 0, limit)
}

// RetryImagesAfter is RetryImages over the images with ids above afterID, in id order: callers
// walk a whole status batch by batch with it (retried pending images stay pending, so without a
// cursor the first batch would come back every time).
func (s *Store) RetryImagesAfter(ctx context.Context, statuses []Status, afterID int64, limit int) ([]int64, error) {
	if len(statuses) == 0 {
		statuses = []Status{StatusFailed}
	}
	if limit <= 0 {
		limit = 10000
	}
	args := []any{}
	for _, st := range statuses {
		if !st.Valid() {
			return nil, fmt.Errorf("store: retry images: %w: unknown status %q", ErrInvalid, st)
		}
		if st == StatusProcessing {
			return nil, fmt.Errorf("store: retry images: %w: images being processed cannot be retried (expire their leases instead)", ErrInvalid)
		}
		args = append(args, string(st))
	}
	in := "status IN (" + placeholders(len(statuses)) + ")"
	var ids []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		ids, err = queryIDs(ctx, tx, "SELECT id FROM images WHERE "+in+" AND id > ? ORDER BY id LIMIT ?"+s.forUpdate(), append(args, afterID, limit)...)
		if err != nil {
			return fmt.Errorf("select: %w", err)
		}
		now := s.nowMillis()
		return inChunks(ids, func(in string, args []any) error {
			if _, err := tx.ExecContext(ctx, "UPDATE images SET status = 'pending', attempts = 0, last_error = '', lease_owner = NULL, lease_expires_at = NULL, processed_at = NULL, updated_at = ? WHERE id IN ("+in+")", append([]any{now}, args...)...); err != nil {
				return fmt.Errorf("update: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: retry images: %w", err)
	}
	return ids, nil
}

// RetryImage sets one final image back to pending (attempts reset). Retrying a pending image is
// a no-op that succeeds; an image being processed gives ErrConflict.
func (s *Store) RetryImage(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE images SET status = 'pending', attempts = 0, last_error = '', processed_at = NULL, updated_at = ?
		WHERE id = ? AND status IN ('processed', 'unidentified', 'no_faces', 'failed')`, s.nowMillis(), id)
	if err != nil {
		return fmt.Errorf("store: retry image %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var st string
	err = s.db.QueryRowContext(ctx, "SELECT status FROM images WHERE id = ?", id).Scan(&st)
	switch {
	case err == sql.ErrNoRows:
		return fmt.Errorf("store: retry image %d: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("store: retry image %d: %w", id, err)
	case Status(st) == StatusProcessing:
		return fmt.Errorf("store: retry image %d: %w: it is being processed", id, ErrConflict)
	}
	return nil
}
