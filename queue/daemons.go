package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nsqio/nsq/nsqd"
	"github.com/nsqio/nsq/nsqlookupd"
)

// NSQDOptions configure an in-process nsqd.
type NSQDOptions struct {
	DataDir     string   // where queued messages are kept across restarts (required)
	TCPAddr     string   // producers and consumers connect here, e.g. 127.0.0.1:4150
	HTTPAddr    string   // stats and admin, e.g. 127.0.0.1:4151
	LookupdTCP  []string // nsqlookupd TCP addresses to register with (may be empty)
	Broadcast   string   // the host consumers use to reach this nsqd [the TCP address's host, or 127.0.0.1]
	MsgTimeout  time.Duration
	MemQueueMsg int64 // messages kept in memory before spilling to disk [10000]
	Logger      *slog.Logger
}

// NSQD is an nsqd running in this process.
type NSQD struct {
	d    *nsqd.NSQD
	done chan error
}

// StartNSQD starts nsqd and returns once it listens.
func StartNSQD(o NSQDOptions) (*NSQD, error) {
	if o.DataDir == "" {
		return nil, errors.New("queue: nsqd needs a data directory")
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("queue: nsqd data directory: %w", err)
	}
	opts := nsqd.NewOptions()
	opts.DataPath = o.DataDir
	opts.TCPAddress = o.TCPAddr
	opts.HTTPAddress = o.HTTPAddr
	opts.HTTPSAddress = ""
	opts.NSQLookupdTCPAddresses = o.LookupdTCP
	opts.BroadcastAddress = broadcastHost(o.Broadcast, o.TCPAddr)
	if o.MsgTimeout > 0 {
		opts.MsgTimeout = o.MsgTimeout
	}
	if o.MemQueueMsg > 0 {
		opts.MemQueueSize = o.MemQueueMsg
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	opts.Logger = nsqLogger{logger.With("role", "nsqd")}
	opts.LogLevel = nsqd.LOG_INFO
	d, err := nsqd.New(opts)
	if err != nil {
		return nil, fmt.Errorf("queue: start nsqd (tcp %s, http %s, data %s): %w", o.TCPAddr, o.HTTPAddr, o.DataDir, err)
	}
	// Topics and channels (and with them the messages queued on disk) come back from the metadata
	// file, as the nsqd program does at start.
	if err := d.LoadMetadata(); err != nil {
		d.Exit()
		return nil, fmt.Errorf("queue: nsqd metadata in %s: %w", o.DataDir, err)
	}
	if err := d.PersistMetadata(); err != nil {
		d.Exit()
		return nil, fmt.Errorf("queue: nsqd metadata in %s: %w", o.DataDir, err)
	}
	// The topic and the processors' channel exist from the start: nsqlookupd can tell consumers
	// about this nsqd at once, and ids published before any processor connects wait in the channel.
	d.GetTopic(Topic).GetChannel(Channel)
	n := &NSQD{d: d, done: make(chan error, 1)}
	go func() { n.done <- d.Main() }()
	return n, nil
}

// TCPAddr is the address producers and consumers connect to.
func (n *NSQD) TCPAddr() string { return n.d.RealTCPAddr().String() }

// HTTPAddr is the address of nsqd's HTTP API (stats).
func (n *NSQD) HTTPAddr() string { return n.d.RealHTTPAddr().String() }

// Healthy reports nsqd's own health (it turns unhealthy when it cannot write to disk).
func (n *NSQD) Healthy() error {
	if err := n.d.GetError(); err != nil {
		return fmt.Errorf("nsqd unhealthy: %w", err)
	}
	return nil
}

// Depth is the number of messages waiting in the processors' channel (or the topic, before a
// processor has ever connected), in memory and on disk.
func (n *NSQD) Depth() int64 {
	st := n.d.GetStats(Topic, "", false)
	var depth int64
	for _, t := range st.Topics {
		depth += t.Depth // messages not yet copied to a channel
		for _, c := range t.Channels {
			if c.ChannelName == Channel {
				depth += c.Depth + int64(c.DeferredCount)
			}
		}
	}
	return depth
}

// Close stops nsqd, flushing in-memory messages to its data directory.
func (n *NSQD) Close() {
	n.d.Exit()
	<-n.done
}

// LookupdOptions configure an in-process nsqlookupd.
type LookupdOptions struct {
	TCPAddr   string // nsqds register here, e.g. 127.0.0.1:4160
	HTTPAddr  string // consumers discover nsqds here, e.g. 127.0.0.1:4161
	Broadcast string
	Logger    *slog.Logger
}

// Lookupd is an nsqlookupd running in this process.
type Lookupd struct {
	l    *nsqlookupd.NSQLookupd
	done chan error
}

// StartLookupd starts nsqlookupd and returns once it listens.
func StartLookupd(o LookupdOptions) (*Lookupd, error) {
	opts := nsqlookupd.NewOptions()
	opts.TCPAddress = o.TCPAddr
	opts.HTTPAddress = o.HTTPAddr
	opts.BroadcastAddress = broadcastHost(o.Broadcast, o.TCPAddr)
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	opts.Logger = nsqLogger{logger.With("role", "nsqlookupd")}
	opts.LogLevel = nsqlookupd.LOG_INFO
	l, err := nsqlookupd.New(opts)
	if err != nil {
		return nil, fmt.Errorf("queue: start nsqlookupd (tcp %s, http %s): %w", o.TCPAddr, o.HTTPAddr, err)
	}
	d := &Lookupd{l: l, done: make(chan error, 1)}
	go func() { d.done <- l.Main() }()
	return d, nil
}

// TCPAddr is where nsqds register.
func (l *Lookupd) TCPAddr() string { return l.l.RealTCPAddr().String() }

// HTTPAddr is where consumers look nsqds up.
func (l *Lookupd) HTTPAddr() string { return l.l.RealHTTPAddr().String() }

// Close stops nsqlookupd.
func (l *Lookupd) Close() {
	l.l.Exit()
	<-l.done
}

// broadcastHost is the host other processes use to reach a daemon listening on listen: the
// explicit one, else the listen host, else (a wildcard) the host name.
func broadcastHost(explicit, listen string) string {
	if explicit != "" {
		return explicit
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "127.0.0.1"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		// Listening everywhere (a pod): others reach us by name, as nsqd itself defaults.
		if name, err := os.Hostname(); err == nil {
			return name
		}
		return "127.0.0.1"
	}
	return host
}
