// Package reconciler repairs what the happy path can leave behind, periodically: it gives back
// images whose processing lease expired (their processor died), publishes again images pending
// for too long (their publish failed after the insert, or the message was lost), and optionally
// retries failed ones. `facecluster retry` runs one retry pass by hand.
//
// Publishing an id twice is harmless: processors claim images atomically and finish duplicates.
package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/internal/metrics"
	"github.com/facecluster/facecluster/store"
)

// Store is what the reconciler needs of *store.Store.
type Store interface {
	ExpireLeases(ctx context.Context, now time.Time, maxAttempts int) (store.ExpiredLeases, error)
	StalePending(ctx context.Context, olderThan time.Duration, limit int) ([]int64, error)
	RetryImagesAfter(ctx context.Context, statuses []store.Status, afterID int64, limit int) ([]int64, error)
}

// Publisher puts image ids on the queue (queue.Producer).
type Publisher interface {
	Publish(ctx context.Context, imageIDs ...int64) error
}

// Options configure a Reconciler.
type Options struct {
	Store       Store
	Publisher   Publisher
	Interval    time.Duration // between passes
	PendingAge  time.Duration // pending images older than this are republished
	MaxAttempts int           // an expired lease on an image with this many attempts fails it
	RetryFailed bool          // also retry failed images on every pass
	Batch       int           // ids per query [1000]
	Logger      *slog.Logger

	// Registerer gets the reconciler's metrics (MetricRepublished) [none: recorded, not exported].
	Registerer prometheus.Registerer
}

// DefaultOptions returns the settings New uses for those left zero; facecluster's flags take
// their defaults from here.
func DefaultOptions() Options {
	return Options{
		Interval:    10 * time.Second,
		PendingAge:  30 * time.Second,
		MaxAttempts: store.DefaultMaxAttempts,
		Batch:       1000,
	}
}

// Reconciler runs passes until its context ends.
type Reconciler struct {
	opts        Options
	log         *slog.Logger
	republished *prometheus.CounterVec // reason
}

// MetricRepublished counts the image ids the reconciler published again, by reason:
// stale_pending, expired_lease, retry_failed.
const MetricRepublished = metrics.Namespace + "_reconciler_republished_total"

// New checks the options.
func New(o Options) (*Reconciler, error) {
	if o.Store == nil || o.Publisher == nil {
		return nil, errors.New("reconciler: Store and Publisher are required")
	}
	def := DefaultOptions()
	if o.Interval <= 0 {
		o.Interval = def.Interval
	}
	if o.PendingAge <= 0 {
		o.PendingAge = def.PendingAge
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = def.MaxAttempts
	}
	if o.Batch <= 0 {
		o.Batch = def.Batch
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	republished, err := metrics.Register(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRepublished,
		Help: "Image ids the reconciler published again, by reason."}, []string{"reason"}))
	if err != nil {
		return nil, fmt.Errorf("reconciler: metrics: %w", err)
	}
	return &Reconciler{opts: o, log: o.Logger.With("role", "reconciler"), republished: republished}, nil
}

// Run runs a pass every Interval until ctx is done.
func (r *Reconciler) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("reconcile pass failed; trying again next interval", "err", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Report is what one pass did.
type Report struct {
	Expired      []int64 // leases expired, back to pending and republished
	ExpiredFail  []int64 // leases expired with attempts exhausted: failed
	Republished  []int64 // stale pending images republished
	RetriedFails []int64 // failed images set back to pending and published
}

// Pass runs one reconciliation.
func (r *Reconciler) Pass(ctx context.Context) (Report, error) {
	var rep Report
	exp, err := r.opts.Store.ExpireLeases(ctx, time.Now(), r.opts.MaxAttempts)
	if err != nil {
		return rep, fmt.Errorf("reconciler: %w", err)
	}
	rep.Expired, rep.ExpiredFail = exp.Requeued, exp.Failed
	if err := r.publish(ctx, "expired_lease", exp.Requeued); err != nil {
		return rep, err
	}
	for _, id := range exp.Failed {
		r.log.Warn("processing lease expired on the last attempt: image failed", "image_id", id)
	}

	for {
		ids, err := r.opts.Store.StalePending(ctx, r.opts.PendingAge, r.opts.Batch)
		if err != nil {
			return rep, fmt.Errorf("reconciler: %w", err)
		}
		if err := r.publish(ctx, "stale_pending", ids); err != nil {
			return rep, err
		}
		rep.Republished = append(rep.Republished, ids...)
		if len(ids) < r.opts.Batch {
			break
		}
	}

	if r.opts.RetryFailed {
		ids, err := Retry(ctx, r.opts.Store, r.opts.Publisher, []store.Status{store.StatusFailed}, r.opts.Batch)
		rep.RetriedFails = ids
		r.republished.WithLabelValues("retry_failed").Add(float64(len(ids)))
		if err != nil {
			return rep, fmt.Errorf("reconciler: %w", err)
		}
	}
	if n := len(rep.Expired) + len(rep.ExpiredFail) + len(rep.Republished) + len(rep.RetriedFails); n > 0 {
		r.log.Info("reconciled", "expired_leases", len(rep.Expired), "expired_and_failed", len(rep.ExpiredFail),
			"republished_pending", len(rep.Republished), "retried_failed", len(rep.RetriedFails))
	}
	return rep, nil
}

func (r *Reconciler) publish(ctx context.Context, reason string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	// (The publisher counts publishes and their errors.)
	if err := r.opts.Publisher.Publish(ctx, ids...); err != nil {
		// The images stay pending: the next pass finds them again.
		return fmt.Errorf("reconciler: republish %d images (%s): %w", len(ids), reason, err)
	}
	r.republished.WithLabelValues(reason).Add(float64(len(ids)))
	return nil
}

// Retry sets images in the given statuses back to pending and publishes them, batch by batch,
// until none is left. It returns the ids retried. If a publish fails, the images stay pending
// and the reconciler's stale-pending pass publishes them later.
func Retry(ctx context.Context, st Store, pub Publisher, statuses []store.Status, batch int) ([]int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	var all []int64
	var after int64
	for {
		ids, err := st.RetryImagesAfter(ctx, statuses, after, batch)
		if err != nil {
			return all, err
		}
		if len(ids) == 0 {
			return all, nil
		}
		all = append(all, ids...)
		after = ids[len(ids)-1]
		if err := pub.Publish(ctx, ids...); err != nil {
			return all, fmt.Errorf("publish %d retried images (they stay pending for the reconciler): %w", len(ids), err)
		}
		if len(ids) < batch {
			return all, nil
		}
	}
}
