// Package clusterinfo reads the state of the facecluster processes running elsewhere, for a
// status page that runs in a process of its own (the web role with --status-peers): each
// peer's /readyz (its health and checks) and /metrics (its breaker, queue depth and processing
// histogram, read by the owners' exported metric names with the Prometheus text parser), and the
// queue depth through nsqlookupd (queue.ClusterDepth). In the manner of nsq's
// internal/clusterinfo, which does the same for nsqadmin.
//
// Peers are read concurrently with a short timeout and a reading is kept for a couple of
// seconds, so a status page reloaded often does not load the cluster, and a peer that does not
// answer costs one timeout, not one per reload.
package clusterinfo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/processor"
	"github.com/facecluster/facecluster/queue"
)

// Peer is a facecluster process whose status is read.
type Peer struct {
	Name string // shown on the status page, e.g. "processor"
	URL  string // HTTP base URL, without a trailing slash
}

// ClusterInfo reads peers. It is safe for concurrent use.
type ClusterInfo struct {
	peers   []Peer
	depth   *queue.ClusterDepth // nil without nsqlookupd addresses
	client  *http.Client
	timeout time.Duration // one peer's reads
	ttl     time.Duration // how long a reading is reused
	resolve func(ctx context.Context, host string) ([]string, error)

	mu   sync.Mutex // held while reading, so concurrent page loads share one reading
	at   time.Time
	last Snapshot
}

// New reads peers, and the queue depth through the nsqlookupds at lookupdHTTPAddrs (none: the
// depth comes from the peers' embedded nsqds).
func New(peers []Peer, lookupdHTTPAddrs []string) *ClusterInfo {
	c := &ClusterInfo{
		peers:   peers,
		client:  &http.Client{},
		timeout: 1500 * time.Millisecond,
		ttl:     2 * time.Second,
		resolve: net.DefaultResolver.LookupHost,
	}
	if len(lookupdHTTPAddrs) > 0 {
		c.depth = queue.NewClusterDepth(lookupdHTTPAddrs)
	}
	return c
}

// PeerStatus is one process's answer.
type PeerStatus struct {
	Name    string
	Healthy bool   // /readyz answered 200
	Detail  string // why not, or its checks
	// Processor: it runs the processor role, so its breaker gauge means something.
	Processor    bool
	Breaker      breaker.State
	BreakerKnown bool
	QueueDepth   int64 // its embedded nsqd's (queue.MetricDepth)
	QueueKnown   bool
	Processing   Histogram // processor.MetricProcessingSeconds, every outcome
}

// Snapshot is one reading of every peer, and of the queue through nsqlookupd.
type Snapshot struct {
	Peers      []PeerStatus // in the order of the peers given, each expanded to its addresses
	QueueDepth int64        // summed over the nsqds nsqlookupd knows
	QueueKnown bool
}

// Read returns the peers' status, at most a couple of seconds old.
func (c *ClusterInfo) Read(ctx context.Context) Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl {
		return c.last
	}
	var targets []Peer
	for _, p := range c.peers {
		targets = append(targets, c.expand(ctx, p)...)
	}
	snap := Snapshot{Peers: make([]PeerStatus, len(targets))}
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { snap.Peers[i] = c.readOne(ctx, t) })
	}
	if c.depth != nil {
		wg.Go(func() { snap.QueueDepth, snap.QueueKnown = c.depth.Read(ctx) })
	}
	wg.Wait()
	c.last, c.at = snap, time.Now()
	return snap
}

// expand turns a peer whose host name resolves to several addresses (a headless Service, a
// compose service with replicas) into one target per address, named "name (address)". A name
// that resolves to one address, or not at all, stays one target: failing to resolve is shown
// as that peer being down.
func (c *ClusterInfo) expand(ctx context.Context, peer Peer) []Peer {
	one := []Peer{peer}
	u, err := url.Parse(peer.URL)
	if err != nil || net.ParseIP(u.Hostname()) != nil {
		return one
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	addrs, err := c.resolve(rctx, u.Hostname())
	if err != nil || len(addrs) < 2 {
		return one
	}
	sort.Strings(addrs)
	out := make([]Peer, 0, len(addrs))
	for _, a := range addrs {
		v := *u
		v.Host = a
		if port := u.Port(); port != "" {
			v.Host = net.JoinHostPort(a, port)
		} else if strings.Contains(a, ":") {
			v.Host = "[" + a + "]"
		}
		out = append(out, Peer{Name: fmt.Sprintf("%s (%s)", peer.Name, a), URL: v.String()})
	}
	return out
}

// readOne reads a peer's /readyz and /metrics concurrently.
func (c *ClusterInfo) readOne(ctx context.Context, peer Peer) PeerStatus {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var (
		ready      readyzBody
		readyCode  int
		readyErr   error
		families   map[string]*dto.MetricFamily
		metricsErr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { readyCode, readyErr = c.getJSON(ctx, peer.URL+"/readyz", &ready) })
	wg.Go(func() { families, metricsErr = c.getMetrics(ctx, peer.URL+"/metrics") })
	wg.Wait()

	r := PeerStatus{Name: peer.Name}
	switch {
	case readyErr != nil:
		r.Detail = fmt.Sprintf("not answering at %s: %s", peer.URL, humanNetError(readyErr))
		return r
	case readyCode == http.StatusOK:
		r.Healthy = true
	}
	_, r.Processor = ready.Checks["processor"]
	r.Detail = ready.detail(readyCode)
	if metricsErr != nil {
		r.Detail += fmt.Sprintf("; metrics unreadable: %s", humanNetError(metricsErr))
		return r
	}
	if v, ok := gaugeValue(families, processor.MetricBreakerState); ok && r.Processor {
		r.Breaker, r.BreakerKnown = breaker.State(v), true
	}
	r.Processing = ProcessingHistogram(families)
	if v, ok := gaugeValue(families, queue.MetricDepth); ok {
		r.QueueDepth, r.QueueKnown = int64(v), true
	}
	return r
}

// readyzBody is what a facecluster process's /readyz answers.
type readyzBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// detail lists the failing checks first, then the passing ones, e.g.
// "unavailable: recognizer: no gallery yet; database ok".
func (b readyzBody) detail(code int) string {
	names := make([]string, 0, len(b.Checks))
	for n := range b.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	var bad, good []string
	for _, n := range names {
		if msg := b.Checks[n]; msg == "ok" {
			good = append(good, n+" ok")
		} else {
			bad = append(bad, n+": "+msg)
		}
	}
	parts := bad
	if len(good) > 0 {
		parts = append(parts, strings.Join(good, ", "))
	}
	status := b.Status
	if status == "" {
		status = fmt.Sprintf("HTTP %d", code)
	}
	if code == http.StatusOK && len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	if len(parts) == 0 {
		return status
	}
	return status + ": " + strings.Join(parts, "; ")
}

func (c *ClusterInfo) getJSON(ctx context.Context, u string, into any) (int, error) {
	body, code, err := c.get(ctx, u, "application/json")
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(body, into); err != nil {
		return 0, fmt.Errorf("%s answered HTTP %d with something that is not facecluster's /readyz", u, code)
	}
	return code, nil
}

func (c *ClusterInfo) getMetrics(ctx context.Context, u string) (map[string]*dto.MetricFamily, error) {
	body, code, err := c.get(ctx, u, "text/plain") // the text format, which TextParser reads
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("not Prometheus text: %w", err)
	}
	return families, nil
}

// maxPeerBody bounds what is read from a peer (a process's /metrics is a few tens of KiB).
const maxPeerBody = 4 << 20

func (c *ClusterInfo) get(ctx context.Context, u, accept string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", accept)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPeerBody))
	if err != nil {
		return nil, 0, err
	}
	return body, resp.StatusCode, nil
}

func gaugeValue(families map[string]*dto.MetricFamily, name string) (float64, bool) {
	f, ok := families[name]
	if !ok || len(f.GetMetric()) == 0 || f.GetMetric()[0].GetGauge() == nil {
		return 0, false
	}
	return f.GetMetric()[0].GetGauge().GetValue(), true
}

// humanNetError says why a peer could not be read in words a person running the cluster
// recognises, without Go's "Get \"…\": dial tcp …" prefixes.
func humanNetError(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within the timeout"
	case errors.As(err, &dnsErr):
		return "the host name does not resolve"
	case errors.As(err, &opErr) && strings.Contains(opErr.Err.Error(), "refused"):
		return "connection refused (the process is not running or not listening)"
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	}
	return err.Error()
}
