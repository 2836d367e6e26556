// Package breaker is the circuit breaker the processors put around recognizer calls.
//
// Semantics (the original app's, done right): after Threshold consecutive failures the breaker
// opens; while open, callers are told to come back later (ErrOpen carries how long), so queued
// work is requeued with a delay instead of failing. After a cool-down the breaker probes the
// dependency's health (for the recognizer, grpc.health.v1) in the background: a failed probe
// doubles the cool-down up to a maximum, a good probe closes the breaker.
//
// It is hand-written because the well-kept libraries (sony/gobreaker and others) let trial
// requests through in a half-open state instead of probing a health endpoint, and have no
// exponential cool-down between failed probes; both are required here.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// State is the breaker's state.
type State int

const (
	Closed  State = iota // calls go through
	Open                 // calls are refused until a probe succeeds
	Probing              // open, and a health probe is running
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case Probing:
		return "probing"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ErrOpen is returned (wrapped in *OpenError) while the breaker is open.
var ErrOpen = errors.New("circuit breaker open")

// OpenError says the breaker is open and when the next probe is due.
type OpenError struct {
	Name       string
	RetryAfter time.Duration
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("%s: %v (next health probe in %s)", e.Name, ErrOpen, e.RetryAfter.Round(time.Millisecond))
}

func (e *OpenError) Unwrap() error { return ErrOpen }

// Options configure a Breaker. Zero values take the defaults in brackets.
type Options struct {
	Name          string                          // for logs and errors ["breaker"]
	Threshold     int                             // consecutive failures that open the breaker [5]
	CoolDown      time.Duration                   // first wait before probing [1s]
	MaxCoolDown   time.Duration                   // the doubling stops here [30s]
	ProbeTimeout  time.Duration                   // each probe's deadline [2s]
	Probe         func(ctx context.Context) error // health check; required
	OnStateChange func(from, to State)            // e.g. a metrics gauge; called without locks held
	Logger        *slog.Logger                    // [slog.Default()]
}

// DefaultOptions are the settings New fills in where Options leaves them zero; serve's
// --breaker-* flags take their defaults from here.
func DefaultOptions() Options {
	return Options{
		Name:         "breaker",
		Threshold:    5,
		CoolDown:     time.Second,
		MaxCoolDown:  30 * time.Second,
		ProbeTimeout: 2 * time.Second,
	}
}

// Breaker is safe for concurrent use. Close stops a running probe loop.
type Breaker struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	state     State
	failures  int           // consecutive, while closed
	coolDown  time.Duration // current cool-down
	nextProbe time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a closed breaker.
func New(opts Options) (*Breaker, error) {
	if opts.Probe == nil {
		return nil, errors.New("breaker: Options.Probe is required")
	}
	def := DefaultOptions()
	if opts.Name == "" {
		opts.Name = def.Name
	}
	if opts.Threshold <= 0 {
		opts.Threshold = def.Threshold
	}
	if opts.CoolDown <= 0 {
		opts.CoolDown = def.CoolDown
	}
	if opts.MaxCoolDown <= 0 {
		opts.MaxCoolDown = def.MaxCoolDown
	}
	if opts.MaxCoolDown < opts.CoolDown {
		opts.MaxCoolDown = opts.CoolDown
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = def.ProbeTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Breaker{opts: opts, log: opts.Logger.With("breaker", opts.Name), coolDown: opts.CoolDown, ctx: ctx, cancel: cancel}, nil
}

// State reports the current state.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Allow returns nil when a call may go ahead, or an *OpenError saying when to come back.
func (b *Breaker) Allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Closed {
		return nil
	}
	wait := time.Until(b.nextProbe)
	if wait < 0 {
		wait = 0
	}
	// A probe takes a moment; never tell callers to come back immediately.
	if wait < 100*time.Millisecond {
		wait = 100 * time.Millisecond
	}
	return &OpenError{Name: b.opts.Name, RetryAfter: wait}
}

// Success records a successful call: the consecutive-failure count starts again.
func (b *Breaker) Success() {
	b.mu.Lock()
	if b.state == Closed {
		b.failures = 0
	}
	b.mu.Unlock()
}

// Failure records a failed call; the Threshold-th consecutive failure opens the breaker.
func (b *Breaker) Failure(err error) {
	b.mu.Lock()
	if b.state != Closed {
		b.mu.Unlock()
		return
	}
	b.failures++
	if b.failures < b.opts.Threshold {
		b.mu.Unlock()
		return
	}
	b.state = Open
	b.coolDown = b.opts.CoolDown
	b.nextProbe = time.Now().Add(b.coolDown)
	coolDown := b.coolDown
	b.mu.Unlock()

	b.log.Warn("circuit breaker opened", "consecutive_failures", b.opts.Threshold, "cool_down", coolDown.String(), "last_error", errString(err))
	b.notify(Closed, Open)
	b.wg.Add(1)
	go b.probeLoop()
}

// Do runs fn if the breaker allows it and records the outcome. Failures are what isFailure says
// (nil: every error counts), so callers can keep bad input from opening the breaker.
func (b *Breaker) Do(ctx context.Context, fn func(context.Context) error, isFailure func(error) bool) error {
	if err := b.Allow(); err != nil {
		return err
	}
	err := fn(ctx)
	switch {
	case err == nil:
		b.Success()
	case isFailure == nil || isFailure(err):
		b.Failure(err)
	default:
		// The dependency answered; the request itself was bad.
		b.Success()
	}
	return err
}

// Close stops the probe loop, if any. The breaker keeps its state.
func (b *Breaker) Close() {
	b.cancel()
	b.wg.Wait()
}

func (b *Breaker) probeLoop() {
	defer b.wg.Done()
	for {
		b.mu.Lock()
		wait := time.Until(b.nextProbe)
		b.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-b.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}

		b.setState(Probing)
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.ProbeTimeout)
		err := b.opts.Probe(ctx)
		cancel()
		if b.ctx.Err() != nil {
			return
		}
		if err == nil {
			b.mu.Lock()
			b.state = Closed
			b.failures = 0
			b.coolDown = b.opts.CoolDown
			b.mu.Unlock()
			b.log.Info("circuit breaker closed: health probe succeeded")
			b.notify(Probing, Closed)
			return
		}
		b.mu.Lock()
		b.state = Open
		b.coolDown *= 2
		if b.coolDown > b.opts.MaxCoolDown {
			b.coolDown = b.opts.MaxCoolDown
		}
		b.nextProbe = time.Now().Add(b.coolDown)
		coolDown := b.coolDown
		b.mu.Unlock()
		b.log.Warn("circuit breaker stays open: health probe failed", "err", err.Error(), "next_probe_in", coolDown.String())
		b.notify(Probing, Open)
	}
}

func (b *Breaker) setState(s State) {
	b.mu.Lock()
	from := b.state
	b.state = s
	b.mu.Unlock()
	if from != s {
		b.notify(from, s)
	}
}

func (b *Breaker) notify(from, to State) {
	if b.opts.OnStateChange != nil {
		b.opts.OnStateChange(from, to)
	}
}

// CoolDown reports the current cool-down (how long the breaker waits before the next probe).
func (b *Breaker) CoolDown() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.coolDown
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
