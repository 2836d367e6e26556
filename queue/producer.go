package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nsqio/go-nsq"
	"github.com/prometheus/client_golang/prometheus"
)

// publishBatch keeps each MPUB well under nsqd's default 5 MiB body limit.
const publishBatch = 5000

// Producer publishes image ids to one nsqd (the receiver's local nsqd: the sidecar pattern).
// It is safe for concurrent use; go-nsq reconnects on demand.
type Producer struct {
	p    *nsq.Producer
	addr string

	published, failed prometheus.Counter // nil until RegisterMetrics
}

// NewProducer returns a producer for the nsqd at addr (TCP). It connects lazily; Ping checks.
func NewProducer(addr string, logger *slog.Logger) (*Producer, error) {
	if addr == "" {
		return nil, errors.New("queue: producer needs an nsqd TCP address")
	}
	cfg := nsq.NewConfig()
	cfg.DialTimeout = 2 * time.Second
	p, err := nsq.NewProducer(addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("queue: producer for nsqd %s: %w", addr, err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	p.SetLogger(nsqLogger{logger}, nsq.LogLevelWarning)
	return &Producer{p: p, addr: addr}, nil
}

// Publish puts the image ids on Topic. It returns when nsqd has them (or on the first error, or
// when ctx is done); ids already accepted stay accepted.
func (p *Producer) Publish(ctx context.Context, imageIDs ...int64) error {
	err := p.publish(ctx, imageIDs)
	switch {
	case p.published == nil:
	case err != nil:
		p.failed.Inc()
	default:
		p.published.Add(float64(len(imageIDs)))
	}
	return err
}

func (p *Producer) publish(ctx context.Context, imageIDs []int64) error {
	for start := 0; start < len(imageIDs); start += publishBatch {
		end := min(start+publishBatch, len(imageIDs))
		bodies := make([][]byte, 0, end-start)
		for _, id := range imageIDs[start:end] {
			bodies = append(bodies, Encode(id))
		}
		done := make(chan *nsq.ProducerTransaction, 1)
		var err error
		if len(bodies) == 1 {
			err = p.p.PublishAsync(Topic, bodies[0], done)
		} else {
			err = p.p.MultiPublishAsync(Topic, bodies, done)
		}
		if err != nil {
			return fmt.Errorf("queue: publish %d image ids to nsqd %s: %w", len(bodies), p.addr, err)
		}
		select {
		case t := <-done:
			if t.Error != nil {
				return fmt.Errorf("queue: publish %d image ids to nsqd %s: %w", len(bodies), p.addr, t.Error)
			}
		case <-ctx.Done():
			return fmt.Errorf("queue: publish to nsqd %s: %w", p.addr, ctx.Err())
		}
	}
	return nil
}

// Ping checks that nsqd answers.
func (p *Producer) Ping(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- p.p.Ping() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("queue: nsqd %s: %w", p.addr, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue: ping nsqd %s: %w", p.addr, ctx.Err())
	}
}

// Close waits for in-flight publishes and disconnects.
func (p *Producer) Close() { p.p.Stop() }
