package receiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/facecluster/facecluster/store"
)

// batcher coalesces concurrent single-image submissions into one transaction and one publish
// (group commit): under load, 64 clients posting one path each cost a few transactions instead
// of 64, and with no load a request goes alone at once — nothing waits for a batch to fill.
type batcher struct {
	rc      *Receiver
	queue   chan *pending
	maxSize int
	timeout time.Duration // bounds recording one batch, so a hung database cannot hold a worker
	stop    chan struct{}
	wg      sync.WaitGroup
}

// batchTimeout bounds the store transaction of one group-commit batch (and, when that fails,
// of the one-by-one retry). Requests time out on their own sooner; this frees the worker.
const batchTimeout = 30 * time.Second

type pending struct {
	ctx  context.Context
	img  store.NewImage
	done chan batchResult
}

type batchResult struct {
	sub store.Submitted
	err error
}

func newBatcher(rc *Receiver, workers, maxSize int, timeout time.Duration) *batcher {
	b := &batcher{rc: rc, queue: make(chan *pending, 4*maxSize), maxSize: maxSize, timeout: timeout, stop: make(chan struct{})}
	for range workers {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// submit records one image (through a shared transaction when others arrive at the same time).
func (b *batcher) submit(ctx context.Context, img store.NewImage) (store.Submitted, error) {
	p := &pending{ctx: ctx, img: img, done: make(chan batchResult, 1)}
	select {
	case b.queue <- p:
	case <-ctx.Done():
		return store.Submitted{}, ctx.Err()
	}
	select {
	case r := <-p.done:
		return r.sub, r.err
	case <-ctx.Done():
		// The image may still be recorded (and published); a retry of the request finds it.
		return store.Submitted{}, ctx.Err()
	}
}

func (b *batcher) loop() {
	defer b.wg.Done()
	batch := make([]*pending, 0, b.maxSize)
	for {
		batch = batch[:0]
		select {
		case p := <-b.queue:
			batch = append(batch, p)
		case <-b.stop:
			return
		}
	drain:
		for len(batch) < b.maxSize {
			select {
			case p := <-b.queue:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		b.run(batch)
	}
}

func (b *batcher) run(batch []*pending) {
	live := batch[:0:0]
	for _, p := range batch {
		if p.ctx.Err() == nil { // the client gave up before its turn: record nothing
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return
	}
	imgs := make([]store.NewImage, len(live))
	for i, p := range live {
		imgs[i] = p.img
	}
	// The batch is not tied to any one request's context: a client leaving must not abort the
	// others' transaction. It is bounded instead.
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	res, err := b.rc.submit(ctx, imgs)
	cancel()
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		// The database is stuck, not one image bad: retrying one by one would only wait longer.
		err = fmt.Errorf("recording the images took longer than %s: %w", b.timeout, err)
	} else if err != nil && len(live) > 1 {
		// Submit one by one so that one failing image fails only its own request; all of them
		// within one more timeout.
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		defer cancel()
		for _, p := range live {
			r, err := b.rc.submit(ctx, []store.NewImage{p.img})
			if err != nil {
				p.done <- batchResult{err: err}
				continue
			}
			p.done <- batchResult{sub: r[0]}
		}
		return
	}
	for i, p := range live {
		if err != nil {
			p.done <- batchResult{err: err}
			continue
		}
		p.done <- batchResult{sub: res[i]}
	}
}

func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
}
