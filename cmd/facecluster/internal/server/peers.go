package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/web"
)

// peerStatus reads what the roles running in other processes (--status-peers) know, for a web
// role that runs alone: each one's /readyz (health and its checks) and /metrics (breaker state,
// queue depth). Peers are read concurrently with a short timeout and the result is kept for a
// couple of seconds, so a status page reloaded often does not load the cluster, and a peer that
// does not answer costs one timeout, not one per reload.
type peerStatus struct {
	peers   []config.StatusPeer
	lookupd []string // nsqlookupd HTTP addresses, for the depth of nsqds that are separate programs
	client  *http.Client
	timeout time.Duration // one peer's reads
	ttl     time.Duration // how long a reading is reused
	resolve func(ctx context.Context, host string) ([]string, error)

	mu   sync.Mutex // held while reading, so concurrent page loads share one reading
	at   time.Time
	last peerSnapshot

	depthAt    time.Time // cachedDepth's last reading
	depth      int64
	depthKnown bool
}

func newPeerStatus(peers []config.StatusPeer, lookupd []string) *peerStatus {
	return &peerStatus{
		peers:   peers,
		lookupd: lookupd,
		client:  &http.Client{},
		timeout: 1500 * time.Millisecond,
		ttl:     2 * time.Second,
		resolve: net.DefaultResolver.LookupHost,
	}
}

// peerReading is one process's answer.
type peerReading struct {
	health       web.RoleHealth
	processor    bool // runs the processor role, so its breaker gauge means something
	breaker      breaker.State
	breakerKnown bool
	queueDepth   int64
	queueKnown   bool
	processing   latencyHistogram // facecluster_processing_duration_seconds, every outcome
}

// peerSnapshot is one reading of every peer, and of the queue through nsqlookupd.
type peerSnapshot struct {
	readings   []peerReading // in the order of --status-peers
	depth      int64         // summed over the nsqds nsqlookupd knows
	depthKnown bool
}

// read returns the peers' readings, at most ttl old.
func (p *peerStatus) read(ctx context.Context) peerSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < p.ttl {
		return p.last
	}
	type target struct{ name, url string }
	var targets []target
	for _, peer := range p.peers {
		for _, t := range p.expand(ctx, peer) {
			targets = append(targets, target{t[0], t[1]})
		}
	}
	snap := peerSnapshot{readings: make([]peerReading, len(targets))}
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { snap.readings[i] = p.readOne(ctx, t.name, t.url) })
	}
	wg.Go(func() { snap.depth, snap.depthKnown = p.nsqdDepth(ctx) })
	wg.Wait()
	p.last, p.at = snap, time.Now()
	return snap
}

// expand turns a peer whose host name resolves to several addresses (a headless Service, a
// compose service with replicas) into one target per address, named "name (address)". A name
// that resolves to one address, or not at all, stays one target: failing to resolve is shown
// as that peer being down.
func (p *peerStatus) expand(ctx context.Context, peer config.StatusPeer) [][2]string {
	one := [][2]string{{peer.Name, peer.URL}}
	u, err := url.Parse(peer.URL)
	if err != nil || net.ParseIP(u.Hostname()) != nil {
		return one
	}
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	addrs, err := p.resolve(rctx, u.Hostname())
	if err != nil || len(addrs) < 2 {
		return one
	}
	sort.Strings(addrs)
	out := make([][2]string, 0, len(addrs))
	for _, a := range addrs {
		v := *u
		v.Host = a
		if port := u.Port(); port != "" {
			v.Host = net.JoinHostPort(a, port)
		} else if strings.Contains(a, ":") {
			v.Host = "[" + a + "]"
		}
		out = append(out, [2]string{fmt.Sprintf("%s (%s)", peer.Name, a), v.String()})
	}
	return out
}

// readOne reads a peer's /readyz and /metrics concurrently.
func (p *peerStatus) readOne(ctx context.Context, name, base string) peerReading {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var (
		r          peerReading
		ready      readyzBody
		readyCode  int
		readyErr   error
		families   map[string]*dto.MetricFamily
		metricsErr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { readyCode, readyErr = p.getJSON(ctx, base+"/readyz", &ready) })
	wg.Go(func() { families, metricsErr = p.getMetrics(ctx, base+"/metrics") })
	wg.Wait()

	r.health = web.RoleHealth{Name: name}
	switch {
	case readyErr != nil:
		r.health.Detail = fmt.Sprintf("not answering at %s: %s", base, humanNetError(readyErr))
		return r
	case readyCode == http.StatusOK:
		r.health.Healthy = true
	}
	_, r.processor = ready.Checks["processor"]
	r.health.Detail = ready.detail(readyCode)
	if metricsErr != nil {
		r.health.Detail += fmt.Sprintf("; metrics unreadable: %s", humanNetError(metricsErr))
		return r
	}
	if v, ok := gaugeValue(families, "facecluster_breaker_state"); ok && r.processor {
		r.breaker, r.breakerKnown = breaker.State(v), true
	}
	r.processing = processingHistogram(families)
	if v, ok := gaugeValue(families, "facecluster_queue_depth"); ok {
		r.queueDepth, r.queueKnown = int64(v), true
	}
	return r
}

// readyzBody is what /readyz answers (internal/server's readyz).
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

func (p *peerStatus) getJSON(ctx context.Context, u string, into any) (int, error) {
	body, code, err := p.get(ctx, u, "application/json")
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(body, into); err != nil {
		return 0, fmt.Errorf("%s answered HTTP %d with something that is not facecluster's /readyz", u, code)
	}
	return code, nil
}

func (p *peerStatus) getMetrics(ctx context.Context, u string) (map[string]*dto.MetricFamily, error) {
	body, code, err := p.get(ctx, u, "text/plain")
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

func (p *peerStatus) get(ctx context.Context, u, accept string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", accept)
	resp, err := p.client.Do(req)
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

// breakerLabel is how the status page names a breaker state.
func breakerLabel(st breaker.State) string {
	if st == breaker.Probing {
		return "half-open"
	}
	return st.String()
}

// mergePeers adds the peers' readings to a report of this process: their health as roles,
// the queue depth (from nsqlookupd's nsqds when it answers, as it covers embedded nsqds too,
// else the peers' queue gauges summed), and the breakers of every processor summarised by the
// worst state ("open on 1 of 3 processors").
func mergePeers(rep *web.StatusReport, snap peerSnapshot, local latencyHistogram) {
	readings := snap.readings
	defer func() {
		if snap.depthKnown {
			rep.QueueDepth, rep.QueueKnown = snap.depth, true
		}
	}()
	processing := local
	for _, r := range readings {
		processing.add(r.processing)
	}
	setProcessing(rep, processing)
	var states []breaker.State
	if rep.Breaker != "" {
		states = append(states, parseBreakerLabel(rep.Breaker)) // this process's own processor
	}
	for _, r := range readings {
		rep.Roles = append(rep.Roles, r.health)
		if r.queueKnown {
			rep.QueueDepth += r.queueDepth
			rep.QueueKnown = true
		}
		if r.breakerKnown {
			states = append(states, r.breaker)
		}
	}
	if len(states) == 0 {
		return
	}
	worst := states[0]
	for _, st := range states {
		if severity(st) > severity(worst) {
			worst = st
		}
	}
	rep.Breaker = breakerLabel(worst)
	if len(states) > 1 && worst != breaker.Closed {
		rep.Breaker = fmt.Sprintf("%s on %d of %d processors", rep.Breaker, countOf(states, worst), len(states))
	}
}

func countOf(states []breaker.State, st breaker.State) int {
	n := 0
	for _, s := range states {
		if s == st {
			n++
		}
	}
	return n
}

// severity orders breaker states from healthy to unhealthy.
func severity(st breaker.State) int {
	switch st {
	case breaker.Closed:
		return 0
	case breaker.Probing:
		return 1
	case breaker.Open:
		return 2
	}
	return -1
}

func parseBreakerLabel(s string) breaker.State {
	switch s {
	case "open":
		return breaker.Open
	case "half-open":
		return breaker.Probing
	}
	return breaker.Closed
}

// cachedDepth is nsqdDepth read at most every ttl (Prometheus may scrape often).
func (p *peerStatus) cachedDepth(ctx context.Context) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.depthAt) < p.ttl {
		return p.depth, p.depthKnown
	}
	p.depth, p.depthKnown = p.nsqdDepth(ctx)
	p.depthAt = time.Now()
	return p.depth, p.depthKnown
}

// nsqdDepth is what waits for processors in every nsqd that nsqlookupd knows has the images
// topic: the topic's own depth plus the processors' channel's depth and deferred messages, as
// queue.NSQD.Depth counts an embedded one. It is how the page knows the depth where nsqd is a
// separate program (the Kubernetes and compose sidecars). Hand-written: go-nsq has no client for
// nsqlookupd's /lookup or nsqd's /stats, and nsq's own is internal to its module.
func (p *peerStatus) nsqdDepth(ctx context.Context) (int64, bool) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	nsqds := map[string]bool{}
	answered := false
	for _, l := range p.lookupd {
		var lookup struct {
			Producers []struct {
				BroadcastAddress string `json:"broadcast_address"`
				HTTPPort         int    `json:"http_port"`
			} `json:"producers"`
		}
		body, code, err := p.get(ctx, "http://"+l+"/lookup?topic="+url.QueryEscape(queue.Topic), "application/vnd.nsq; version=1.0")
		if err != nil || (code != http.StatusOK && code != http.StatusNotFound) {
			continue
		}
		answered = true // 404: the topic does not exist yet, so nothing waits
		if code == http.StatusOK && json.Unmarshal(body, &lookup) == nil {
			for _, pr := range lookup.Producers {
				nsqds[net.JoinHostPort(pr.BroadcastAddress, fmt.Sprint(pr.HTTPPort))] = true
			}
		}
	}
	if !answered {
		return 0, false
	}
	var (
		mu    sync.Mutex
		total int64
		known = true
		wg    sync.WaitGroup
	)
	for addr := range nsqds {
		wg.Go(func() {
			var stats struct {
				Topics []struct {
					Name     string `json:"topic_name"`
					Depth    int64  `json:"depth"`
					Channels []struct {
						Name     string `json:"channel_name"`
						Depth    int64  `json:"depth"`
						Deferred int64  `json:"deferred_count"`
					} `json:"channels"`
				} `json:"topics"`
			}
			u := "http://" + addr + "/stats?format=json&topic=" + url.QueryEscape(queue.Topic)
			body, code, err := p.get(ctx, u, "application/vnd.nsq; version=1.0")
			mu.Lock()
			defer mu.Unlock()
			if err != nil || code != http.StatusOK || json.Unmarshal(body, &stats) != nil {
				known = false // one nsqd unread: a partial sum would understate the queue
				return
			}
			for _, t := range stats.Topics {
				if t.Name != queue.Topic {
					continue
				}
				total += t.Depth
				for _, c := range t.Channels {
					if c.Name == queue.Channel {
						total += c.Depth + c.Deferred
					}
				}
			}
		})
	}
	wg.Wait()
	return total, known
}

// localProcessing is this process's processing histogram (empty without the processor role).
func (s *Server) localProcessing() latencyHistogram {
	if s.processor == nil {
		return latencyHistogram{}
	}
	families, err := s.metrics.Registry.Gather()
	if err != nil {
		return latencyHistogram{}
	}
	byName := make(map[string]*dto.MetricFamily, len(families))
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return processingHistogram(byName)
}

// latencyHistogram is a cumulative Prometheus histogram: counts of observations ≤ each bound.
type latencyHistogram struct {
	bounds []float64 // seconds, ascending, +Inf excluded
	counts []uint64  // cumulative, len(bounds)
	total  uint64
}

// processingHistogram sums facecluster_processing_duration_seconds over its outcome labels.
func processingHistogram(families map[string]*dto.MetricFamily) latencyHistogram {
	var h latencyHistogram
	f, ok := families["facecluster_processing_duration_seconds"]
	if !ok {
		return h
	}
	for _, m := range f.GetMetric() {
		ph := m.GetHistogram()
		if ph == nil {
			continue
		}
		one := latencyHistogram{total: ph.GetSampleCount()}
		for _, b := range ph.GetBucket() {
			if math.IsInf(b.GetUpperBound(), 1) {
				continue
			}
			one.bounds = append(one.bounds, b.GetUpperBound())
			one.counts = append(one.counts, b.GetCumulativeCount())
		}
		h.add(one)
	}
	return h
}

// add sums o into h; histograms with other bounds than h's are left out (every facecluster
// process uses the same, from internal/metrics).
func (h *latencyHistogram) add(o latencyHistogram) {
	if o.total == 0 {
		return
	}
	if h.total == 0 && len(h.bounds) == 0 {
		h.bounds, h.counts = slices.Clone(o.bounds), make([]uint64, len(o.bounds))
	}
	if !slices.Equal(h.bounds, o.bounds) {
		return
	}
	for i := range o.counts {
		h.counts[i] += o.counts[i]
	}
	h.total += o.total
}

// quantile estimates the q-quantile by linear interpolation inside its bucket, as Prometheus's
// histogram_quantile does; beyond the last bound it answers the last bound.
func (h latencyHistogram) quantile(q float64) time.Duration {
	rank := q * float64(h.total)
	lower, below := 0.0, uint64(0)
	for i, bound := range h.bounds {
		if float64(h.counts[i]) >= rank {
			in := h.counts[i] - below
			frac := 1.0
			if in > 0 {
				frac = (rank - float64(below)) / float64(in)
			}
			return time.Duration((lower + (bound-lower)*frac) * float64(time.Second))
		}
		lower, below = bound, h.counts[i]
	}
	return time.Duration(lower * float64(time.Second))
}

func setProcessing(rep *web.StatusReport, h latencyHistogram) {
	if h.total == 0 {
		return
	}
	rep.ProcessingP50 = h.quantile(0.5).Round(time.Millisecond)
	rep.ProcessingP95 = h.quantile(0.95).Round(time.Millisecond)
	rep.ProcessingKnown = true
}
