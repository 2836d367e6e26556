package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/facecluster/facecluster/store"
)

// KindRetry sets images in some statuses back to pending, attempts reset, and publishes their
// ids, batch by batch in id order (`facecluster retry`). The checkpoint is the last image id
// done.
const KindRetry = "retry"

// DefaultRetryBatch is how many images a retry batch takes: between batches the runner waits
// for the pipeline to work off what it requeued, so live images queue behind at most this many.
const DefaultRetryBatch = 200

// RetryParams are a retry job's parameters.
type RetryParams struct {
	Statuses []store.Status `json:"statuses"`        // default [failed]; never processing
	Batch    int            `json:"batch,omitempty"` // images per batch [DefaultRetryBatch]
}

// Kind is KindRetry.
func (*RetryParams) Kind() string { return KindRetry }

// Validate fills in the defaults and refuses what cannot be retried.
func (p *RetryParams) Validate() error {
	if len(p.Statuses) == 0 {
		p.Statuses = []store.Status{store.StatusFailed}
	}
	for _, s := range p.Statuses {
		if !s.Valid() {
			return fmt.Errorf("%w: unknown status %q (want some of failed, pending, processed, unidentified, no_faces)", store.ErrInvalid, s)
		}
		if s == store.StatusProcessing {
			return fmt.Errorf("%w: images being processed cannot be retried (the reconciler expires stale leases)", store.ErrInvalid)
		}
	}
	switch {
	case p.Batch == 0:
		p.Batch = DefaultRetryBatch
	case p.Batch < 0 || p.Batch > 10_000:
		return fmt.Errorf("%w: retry batch %d is not between 1 and 10000", store.ErrInvalid, p.Batch)
	}
	return nil
}

// RetryStore is what the retry kind needs of *store.Store.
type RetryStore interface {
	RetryImagesAfter(ctx context.Context, statuses []store.Status, afterID int64, limit int) ([]int64, error)
	CountImagesAfter(ctx context.Context, statuses []store.Status, afterID int64) (int64, error)
}

// Publisher puts image ids on the queue (queue.Producer).
type Publisher interface {
	Publish(ctx context.Context, imageIDs ...int64) error
}

// Retry is the handler of KindRetry.
func Retry(st RetryStore, pub Publisher, log *slog.Logger) Handler {
	if log == nil {
		log = slog.Default()
	}
	return &retryHandler{st: st, pub: pub, log: log}
}

type retryHandler struct {
	st  RetryStore
	pub Publisher
	log *slog.Logger
}

func (h *retryHandler) params(job store.Job) (*RetryParams, int64, error) {
	p, err := ParseParams(KindRetry, job.Params)
	if err != nil {
		return nil, 0, Permanent(err)
	}
	var after int64
	if job.Checkpoint != "" {
		if after, err = strconv.ParseInt(job.Checkpoint, 10, 64); err != nil {
			return nil, 0, Permanent(fmt.Errorf("retry job checkpoint %q is not an image id", job.Checkpoint))
		}
	}
	return p.(*RetryParams), after, nil
}

func (h *retryHandler) Remaining(ctx context.Context, job store.Job) (int64, error) {
	p, after, err := h.params(job)
	if err != nil {
		return 0, err
	}
	return h.st.CountImagesAfter(ctx, p.Statuses, after)
}

// Batch requeues the next images after the checkpoint and publishes them. Done twice (a crash
// before the checkpoint) it finds the images already pending and passes them by: they were
// requeued, and if their publish was lost the reconciler publishes them again.
func (h *retryHandler) Batch(ctx context.Context, job store.Job) (Step, error) {
	p, after, err := h.params(job)
	if err != nil {
		return Step{}, err
	}
	ids, err := h.st.RetryImagesAfter(ctx, p.Statuses, after, p.Batch)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return Step{}, Permanent(err)
		}
		return Step{}, err
	}
	if len(ids) == 0 {
		return Step{Checkpoint: job.Checkpoint, Finished: true}, nil
	}
	// The requeue is committed: publish it even when the job is being stopped (the checkpoint
	// after this batch is written too), or the images would wait for the reconciler.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := h.pub.Publish(pctx, ids...); err != nil {
		// The images are pending already (committed): the reconciler's stale-pending pass
		// publishes them. Failing here would not publish them sooner.
		h.log.Warn("publishing retried images failed; they stay pending and the reconciler publishes them again",
			"job_id", job.ID, "images", len(ids), "err", err.Error())
	}
	return Step{Checkpoint: strconv.FormatInt(ids[len(ids)-1], 10), Done: int64(len(ids)), Finished: len(ids) < p.Batch}, nil
}
