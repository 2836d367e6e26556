// Package processor consumes image ids from NSQ, has the recognizer analyse each image over
// gRPC (behind a circuit breaker) and records the outcome in the store.
//
// The rules that make it lose nothing and do nothing twice:
//   - a message is finished only after the outcome (or a permanent failure) is in the database;
//   - an image is claimed atomically with a lease before any work (store.ClaimImage), so two
//     processors never both process it and a duplicate delivery is simply finished;
//   - a transient failure goes back to pending and the message is requeued with a per-message
//     exponential delay; after --max-attempts the image is failed with its reason;
//   - while the breaker is open, messages are requeued with the breaker's delay without being
//     claimed (no attempt is spent on an outage);
//   - the lease is extended and the NSQ message touched while a slow image is analysed; if the
//     processor dies, the reconciler expires the lease and publishes the image again.
package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/nsqio/go-nsq"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/store"
)

// Store is what the processor needs of *store.Store.
type Store interface {
	GetImage(ctx context.Context, id int64) (*store.Image, error)
	ClaimImage(ctx context.Context, id int64, owner string, lease time.Duration) (bool, error)
	ExtendLease(ctx context.Context, id int64, owner string, lease time.Duration) error
	RecordOutcome(ctx context.Context, id int64, owner string, out store.Outcome) (store.Status, error)
	RecordFailure(ctx context.Context, id int64, owner, reason string, permanent bool, maxAttempts int) (store.Status, error)
}

// ImageSource turns a stored image into what the recognizer is sent: a path reference for
// images on the shared volume, the bytes for images in blob storage.
type ImageSource func(ctx context.Context, img *store.Image) (*recognizerv1.Image, error)

// ErrBadSource marks an image whose source cannot be read for good (a permanent failure).
var ErrBadSource = errors.New("image source unreadable")

// Options configure a Processor.
type Options struct {
	Store      Store
	Recognizer recognizerv1.RecognizerServiceClient
	Breaker    *breaker.Breaker
	Source     ImageSource // [path references only]
	// Registerer gets the processor's metrics (Metric* names) [none: recorded, not exported].
	Registerer prometheus.Registerer
	Logger     *slog.Logger

	// Queue: discovery through nsqlookupd and/or direct nsqd connections.
	LookupdHTTPAddrs []string
	NSQDTCPAddrs     []string
	LookupdPoll      time.Duration

	Concurrency      int           // images at once
	MaxAttempts      int           // attempts before failed
	Lease            time.Duration // claim duration
	RetryDelay       time.Duration // first retry delay, doubled per attempt
	MaxRetryDelay    time.Duration
	RecognizeTimeout time.Duration
	// MatchThreshold is sent with every request; 0 (the default) asks the recognizer to use its
	// own, so that the role that matches owns the setting. Set it only to override the
	// recognizers' threshold for this processor's images.
	MatchThreshold float32
	Owner          string // lease owner name [host-pid-random]
}

// DefaultOptions returns the settings New uses for those left zero; facecluster's flags take
// their defaults from here.
func DefaultOptions() Options {
	return Options{
		LookupdPoll:      15 * time.Second,
		Concurrency:      runtime.GOMAXPROCS(0),
		MaxAttempts:      store.DefaultMaxAttempts,
		Lease:            2 * time.Minute,
		RetryDelay:       time.Second,
		MaxRetryDelay:    time.Minute,
		RecognizeTimeout: 60 * time.Second,
	}
}

// Processor is one consumer with Concurrency handlers.
type Processor struct {
	opts    Options
	log     *slog.Logger
	metrics *processorMetrics

	ctx    context.Context // cancelled when shutdown gives up waiting
	cancel context.CancelFunc

	mu       sync.Mutex
	consumer *queue.Consumer
}

// New checks the options. Start connects to the queue.
func New(o Options) (*Processor, error) {
	if o.Store == nil || o.Recognizer == nil || o.Breaker == nil {
		return nil, errors.New("processor: Store, Recognizer and Breaker are required")
	}
	if len(o.LookupdHTTPAddrs) == 0 && len(o.NSQDTCPAddrs) == 0 {
		return nil, errors.New("processor: nsqlookupd HTTP addresses or nsqd TCP addresses are required")
	}
	def := DefaultOptions()
	if o.LookupdPoll <= 0 {
		o.LookupdPoll = def.LookupdPoll
	}
	if o.Concurrency <= 0 {
		o.Concurrency = def.Concurrency
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = def.MaxAttempts
	}
	if o.Lease <= 0 {
		o.Lease = def.Lease
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = def.RetryDelay
	}
	if o.MaxRetryDelay < o.RetryDelay {
		o.MaxRetryDelay = max(def.MaxRetryDelay, o.RetryDelay)
	}
	if o.RecognizeTimeout <= 0 {
		o.RecognizeTimeout = def.RecognizeTimeout
	}
	if o.Source == nil {
		o.Source = PathSource
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Owner == "" {
		o.Owner = DefaultOwner()
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Processor{opts: o, log: o.Logger.With("role", "processor", "owner", o.Owner), metrics: m, ctx: ctx, cancel: cancel}, nil
}

// DefaultOwner names this process for leases: host, pid and a random suffix.
func DefaultOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// PathSource sends path images by reference and refuses the others.
func PathSource(_ context.Context, img *store.Image) (*recognizerv1.Image, error) {
	if img.SourceKind != store.SourcePath && img.SourceKind != "" {
		return nil, fmt.Errorf("%w: %s images need blob storage, which this processor was not given", ErrBadSource, img.SourceKind)
	}
	return &recognizerv1.Image{Source: &recognizerv1.Image_Path{Path: img.Source}}, nil
}

// Start connects to the queue and begins handling messages.
func (p *Processor) Start() error {
	c, err := queue.NewConsumer(queue.ConsumerOptions{
		LookupdHTTPAddrs: p.opts.LookupdHTTPAddrs, NSQDTCPAddrs: p.opts.NSQDTCPAddrs,
		Concurrency: p.opts.Concurrency, LookupdPoll: p.opts.LookupdPoll, Logger: p.opts.Logger,
	}, p.HandleMessage)
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	p.mu.Lock()
	p.consumer = c
	p.mu.Unlock()
	p.log.Info("processor started", "concurrency", p.opts.Concurrency, "lookupd", p.opts.LookupdHTTPAddrs, "nsqd", p.opts.NSQDTCPAddrs)
	return nil
}

// Ready reports whether the processor is connected to at least one nsqd.
func (p *Processor) Ready() error {
	p.mu.Lock()
	c := p.consumer
	p.mu.Unlock()
	if c == nil {
		return errors.New("processor not started")
	}
	if c.Connected() == 0 {
		return errors.New("processor not connected to any nsqd yet")
	}
	return nil
}

// Stop stops taking messages and lets the images in flight finish until ctx is done; then their
// recognizer calls are cancelled, the images go back to pending and their messages are requeued.
func (p *Processor) Stop(ctx context.Context) error {
	p.mu.Lock()
	c := p.consumer
	p.mu.Unlock()
	if c == nil {
		p.cancel()
		return nil
	}
	err := c.Stop(ctx)
	if err != nil {
		p.log.Warn("shutdown: in-flight images did not finish in time; requeueing them", "err", err.Error())
		p.cancel()
		wait, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = c.Stop(wait)
	}
	p.cancel()
	return err
}

// HandleMessage handles one queue message and always responds to it.
func (p *Processor) HandleMessage(msg *nsq.Message) {
	m, err := queue.Decode(msg.Body)
	if err != nil {
		// Nothing can ever make sense of it; keeping it would loop forever.
		p.log.Error("dropping malformed message", "err", err.Error())
		p.count("malformed", 0)
		msg.Finish()
		return
	}
	id := m.ImageID
	log := p.log.With("image_id", id)

	if err := p.opts.Breaker.Allow(); err != nil {
		var oe *breaker.OpenError
		delay := p.opts.RetryDelay
		if errors.As(err, &oe) {
			delay = oe.RetryAfter
		}
		log.Debug("recognizer breaker open: requeueing without claiming", "delay", delay.String())
		p.count("requeued_breaker_open", 0)
		msg.RequeueWithoutBackoff(delay)
		return
	}

	ctx := p.ctx
	claimed, err := p.opts.Store.ClaimImage(ctx, id, p.opts.Owner, p.opts.Lease)
	if err != nil {
		if ctx.Err() != nil {
			// Shut down mid-claim: the UPDATE may have committed though its answer was lost.
			// Give the image back if this processor holds it, rather than leave it processing
			// until the lease expires.
			p.giveBack(log, id)
		}
		delay := p.backoff(int(msg.Attempts))
		log.Warn("cannot claim image: database error; requeueing", "err", err.Error(), "delay", delay.String())
		p.count("requeued_store_error", 0)
		msg.RequeueWithoutBackoff(delay)
		return
	}
	if !claimed {
		// Final already, claimed by a live processor, or gone: this delivery is a duplicate.
		log.Debug("image not claimable (final, held by another processor, or deleted): finishing duplicate message")
		p.count("duplicate", 0)
		msg.Finish()
		return
	}
	start := time.Now()
	outcome, delay := p.process(ctx, log, msg, id)
	p.count(outcome, time.Since(start))
	if delay < 0 {
		msg.Finish()
		return
	}
	msg.RequeueWithoutBackoff(delay)
}

// giveBack returns an image this processor may hold to pending after a shutdown interrupted
// its claim; an image it does not hold is left as it is.
func (p *Processor) giveBack(log *slog.Logger, id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.opts.Store.RecordFailure(ctx, id, p.opts.Owner, "processor shut down while claiming the image", false, p.opts.MaxAttempts)
	switch {
	case err == nil:
		log.Warn("shutdown interrupted the claim; image given back")
	case !errors.Is(err, store.ErrLeaseNotHeld):
		log.Error("shutdown interrupted the claim and the image could not be given back; the reconciler retries it after its lease expires", "err", err.Error())
	}
}

// process works on a claimed image. It returns the outcome label and -1 to finish the message,
// or the delay to requeue it with.
func (p *Processor) process(ctx context.Context, log *slog.Logger, msg *nsq.Message, id int64) (string, time.Duration) {
	img, err := p.opts.Store.GetImage(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down before recognition started: give the image back, as below.
			return p.fail(log, id, 0, fmt.Errorf("processor shut down before recognition: %w", err), false)
		}
		return p.fail(log, id, 0, fmt.Errorf("read image: %w", err), errors.Is(err, store.ErrNotFound))
	}
	log = log.With("attempt", img.Attempts)

	stop := p.keepAlive(ctx, log, msg, id)
	resp, err := p.recognize(ctx, img)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: give the image back without holding it against the image.
			return p.fail(log, id, img.Attempts, fmt.Errorf("processor shut down during recognition: %w", err), false)
		}
		return p.fail(log, id, img.Attempts, err, permanent(err))
	}

	// The recognizer hashed the bytes it read: a path image gets its content hash here (an
	// upload's was recorded at submission and is the same).
	out := store.Outcome{Width: int(resp.GetWidth()), Height: int(resp.GetHeight()), ContentHash: resp.GetContentHash()}
	for _, f := range resp.GetFaces() {
		sf := storeFace(f)
		sf.Model = resp.GetModelVersion() // the descriptor's version: reembed and the gallery compare only like with like
		out.Faces = append(out.Faces, sf)
	}
	// The work is done: record it even if a shutdown is cancelling the processor's context.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var final store.Status
	err = p.withRetry(wctx, func(ctx context.Context) error {
		var err error
		final, err = p.opts.Store.RecordOutcome(ctx, id, p.opts.Owner, out)
		return err
	})
	switch {
	case err == nil:
	case errors.Is(err, store.ErrLeaseNotHeld):
		log.Warn("lease lost before the outcome was recorded (another processor took the image over); finishing", "err", err.Error())
		return "lease_lost", -1
	case errors.Is(err, store.ErrInvalid):
		return p.fail(log, id, img.Attempts, fmt.Errorf("recognizer answer refused by the store: %w", err), true)
	default:
		// The lease still holds the image; the reconciler gives it back when it expires.
		log.Error("cannot record outcome: database error; the reconciler will retry the image after its lease expires", "err", err.Error())
		return "requeued_store_error", p.opts.Lease
	}
	known := 0
	for _, f := range out.Faces {
		if f.PersonID != 0 {
			known++
		}
	}
	log.Info("image processed", "status", string(final), "faces", len(out.Faces), "known_faces", known)
	return string(final), -1
}

// fail records a failure and decides the message's fate.
func (p *Processor) fail(log *slog.Logger, id int64, attempts int, cause error, isPermanent bool) (string, time.Duration) {
	reason := errorMessage(cause)
	// A fresh context: the failure must be recorded even while shutting down.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var st store.Status
	err := p.withRetry(ctx, func(ctx context.Context) error {
		var err error
		st, err = p.opts.Store.RecordFailure(ctx, id, p.opts.Owner, reason, isPermanent, p.opts.MaxAttempts)
		return err
	})
	switch {
	case errors.Is(err, store.ErrLeaseNotHeld):
		log.Warn("lease lost before the failure was recorded; finishing", "err", reason)
		return "lease_lost", -1
	case err != nil:
		log.Error("cannot record failure: database error; the reconciler will retry the image after its lease expires", "err", err.Error(), "cause", reason)
		return "requeued_store_error", p.opts.Lease
	case st == store.StatusFailed:
		log.Warn("image failed", "reason", reason, "permanent", isPermanent)
		return "failed", -1
	default:
		delay := p.backoff(attempts)
		log.Warn("image will be retried", "reason", reason, "delay", delay.String())
		return "retry", delay
	}
}

func (p *Processor) recognize(ctx context.Context, img *store.Image) (*recognizerv1.RecognizeResponse, error) {
	src, err := p.opts.Source(ctx, img)
	if err != nil {
		return nil, err
	}
	var resp *recognizerv1.RecognizeResponse
	err = p.opts.Breaker.Do(ctx, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, p.opts.RecognizeTimeout)
		defer cancel()
		var err error
		resp, err = p.opts.Recognizer.Recognize(ctx, &recognizerv1.RecognizeRequest{Image: src, Threshold: p.opts.MatchThreshold})
		return err
	}, recognizerDown)
	return resp, err
}

// recognizerDown says which errors count against the recognizer's health: the ones where it
// did not answer properly, not the ones about the image.
func recognizerDown(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.OutOfRange, codes.Canceled:
		return false
	}
	return true
}

// permanent errors will not go away by retrying.
func permanent(err error) bool {
	if errors.Is(err, ErrBadSource) {
		return true
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.OutOfRange:
		return true
	}
	return false
}

// errorMessage is the reason users see: the gRPC message without the rpc error prefix.
func errorMessage(err error) string {
	if s, ok := status.FromError(err); ok && s.Code() != codes.OK && s.Code() != codes.Unknown {
		return fmt.Sprintf("recognizer: %s (%s)", s.Message(), s.Code())
	}
	return err.Error()
}

// keepAlive touches the NSQ message (so nsqd does not redeliver it) and extends the lease while
// a slow image is analysed. The returned func stops it.
func (p *Processor) keepAlive(ctx context.Context, log *slog.Logger, msg *nsq.Message, id int64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(min(p.opts.Lease/3, 20*time.Second))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				msg.Touch()
				if err := p.opts.Store.ExtendLease(ctx, id, p.opts.Owner, p.opts.Lease); err != nil {
					log.Warn("cannot extend the lease", "err", err.Error())
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// withRetry retries a database write a few times on errors other than the store's verdicts.
func (p *Processor) withRetry(ctx context.Context, fn func(context.Context) error) error {
	var err error
	for i := 0; i < 3; i++ {
		if err = fn(ctx); err == nil || errors.Is(err, store.ErrLeaseNotHeld) || errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 100 * time.Millisecond):
		}
	}
	return err
}

// backoff is RetryDelay doubled per attempt already made, capped at MaxRetryDelay.
func (p *Processor) backoff(attempts int) time.Duration {
	d := p.opts.RetryDelay
	for i := 1; i < attempts && d < p.opts.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, p.opts.MaxRetryDelay)
}

func (p *Processor) count(outcome string, took time.Duration) {
	p.metrics.messages.WithLabelValues(outcome).Inc()
	if took > 0 {
		p.metrics.seconds.WithLabelValues(outcome).Observe(took.Seconds())
	}
}

func storeFace(f *recognizerv1.Face) store.Face {
	sf := store.Face{
		Box:        store.Box{X: f.GetBox().GetX(), Y: f.GetBox().GetY(), W: f.GetBox().GetWidth(), H: f.GetBox().GetHeight()},
		Score:      f.GetScore(),
		Descriptor: f.GetEmbedding(),
		Distance:   math.NaN(), // no gallery to compare with
	}
	for _, pt := range f.GetLandmarks() {
		sf.Landmarks = append(sf.Landmarks, store.Point{X: pt.GetX(), Y: pt.GetY()})
	}
	if m := f.GetMatch(); m != nil {
		if m.GetKnown() {
			sf.PersonID = m.GetPersonId()
		}
		if m.GetKnown() || m.GetBestExampleId() != 0 {
			// For an unknown face: the distance to the nearest person, who was too far.
			sf.Distance = float64(m.GetDistance())
		}
	}
	return sf
}
