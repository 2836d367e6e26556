package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nsqio/go-nsq"
)

// ConsumerOptions configure a Consumer. Give LookupdHTTPAddrs (discovery, the production way)
// or NSQDTCPAddrs (direct connections); both are allowed.
type ConsumerOptions struct {
	Topic            string // [Topic]
	Channel          string // [Channel]
	LookupdHTTPAddrs []string
	NSQDTCPAddrs     []string
	Concurrency      int           // messages handled at once [1]
	LookupdPoll      time.Duration // how often nsqlookupd is asked for new nsqds [15s]
	MsgTimeout       time.Duration // nsqd requeues a message not finished or touched in this time [nsqd's]
	Logger           *slog.Logger
}

// Consumer feeds messages to a handler with bounded concurrency. The handler decides each
// message's fate itself (Finish, Requeue, RequeueWithoutBackoff): auto-response is disabled so
// nothing is acknowledged behind its back.
type Consumer struct {
	c *nsq.Consumer
}

// Handler handles one message and must respond to it (msg.Finish or msg.Requeue…) before
// returning. A message left without a response is requeued without delay.
type Handler func(msg *nsq.Message)

// NewConsumer connects a consumer and starts handling messages.
func NewConsumer(o ConsumerOptions, h Handler) (*Consumer, error) {
	if len(o.LookupdHTTPAddrs) == 0 && len(o.NSQDTCPAddrs) == 0 {
		return nil, errors.New("queue: consumer needs nsqlookupd HTTP addresses or nsqd TCP addresses")
	}
	if o.Topic == "" {
		o.Topic = Topic
	}
	if o.Channel == "" {
		o.Channel = Channel
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = o.Concurrency
	// Attempts are counted in the database (the image's attempts column), not by NSQ.
	cfg.MaxAttempts = 0
	// Backoff is per message (RequeueWithoutBackoff with our own delay): one bad image must not
	// slow the whole consumer down.
	cfg.MaxBackoffDuration = 0
	if o.LookupdPoll > 0 {
		cfg.LookupdPollInterval = o.LookupdPoll
	}
	if o.MsgTimeout > 0 {
		cfg.MsgTimeout = o.MsgTimeout
	}
	c, err := nsq.NewConsumer(o.Topic, o.Channel, cfg)
	if err != nil {
		return nil, fmt.Errorf("queue: consumer of %s/%s: %w", o.Topic, o.Channel, err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	c.SetLogger(nsqLogger{logger}, nsq.LogLevelWarning)
	c.AddConcurrentHandlers(nsq.HandlerFunc(func(m *nsq.Message) error {
		m.DisableAutoResponse()
		h(m)
		if !m.HasResponded() {
			m.RequeueWithoutBackoff(0)
		}
		return nil
	}), o.Concurrency)
	if len(o.NSQDTCPAddrs) > 0 {
		if err := c.ConnectToNSQDs(o.NSQDTCPAddrs); err != nil {
			c.Stop()
			return nil, fmt.Errorf("queue: connect to nsqd %v: %w", o.NSQDTCPAddrs, err)
		}
	}
	if len(o.LookupdHTTPAddrs) > 0 {
		if err := c.ConnectToNSQLookupds(o.LookupdHTTPAddrs); err != nil {
			c.Stop()
			return nil, fmt.Errorf("queue: connect to nsqlookupd %v: %w", o.LookupdHTTPAddrs, err)
		}
	}
	return &Consumer{c: c}, nil
}

// Connected reports how many nsqd connections the consumer has.
func (c *Consumer) Connected() int { return c.c.Stats().Connections }

// Stop stops taking messages and waits until the handlers in flight have returned (or ctx is
// done). Messages not yet handled go back to nsqd for another consumer.
func (c *Consumer) Stop(ctx context.Context) error {
	c.c.Stop()
	select {
	case <-c.c.StopChan:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue: consumer did not stop in time: %w", ctx.Err())
	}
}
