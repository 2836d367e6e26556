package server

import (
	"context"
	"fmt"
	"time"

	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/clusterinfo"
	"github.com/facecluster/facecluster/web"
)

// statusSource tells the web status page what only the running processes know: this one's
// services, and those of the processes at --status-peers.
type statusSource struct {
	s       *Server
	cluster *clusterinfo.ClusterInfo // nil without --status-peers
}

func (src statusSource) Status(ctx context.Context) (web.StatusReport, error) {
	s := src.s
	var rep web.StatusReport
	var local clusterinfo.Histogram // this process's processing times
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	for _, st := range started {
		if r, ok := st.svc.(statusReporter); ok {
			r.report(&rep, &local)
		}
	}
	for _, c := range s.checks(ctx) {
		h := web.RoleHealth{Name: c.name, Healthy: true, Detail: "ok"}
		if c.err != nil {
			h.Healthy, h.Detail = false, c.err.Error()
		}
		rep.Roles = append(rep.Roles, h)
	}
	if src.cluster != nil {
		mergePeers(&rep, src.cluster.Read(ctx), local)
	} else {
		setProcessing(&rep, local)
	}
	return rep, nil
}

// A statusReporter is a service that adds what only it knows to the status page's report.
type statusReporter interface {
	report(rep *web.StatusReport, processing *clusterinfo.Histogram)
}

// report gives the embedded nsqd's queue depth.
func (n *nsqdService) report(rep *web.StatusReport, _ *clusterinfo.Histogram) {
	rep.QueueDepth, rep.QueueKnown = n.d.Depth(), true
}

// report gives the processor's breaker and processing times.
func (p *processorService) report(rep *web.StatusReport, processing *clusterinfo.Histogram) {
	rep.Breaker = breakerLabel(p.breaker.State())
	*processing = clusterinfo.GatherProcessing(p.s.registry)
}

// breakerLabel is how the status page names a breaker state.
func breakerLabel(st breaker.State) string {
	if st == breaker.Probing {
		return "half-open"
	}
	return st.String()
}

// mergePeers adds the peers' status to a report of this process: their health as roles,
// the queue depth (from nsqlookupd's nsqds when it answers, as it covers embedded nsqds too,
// else the peers' queue gauges summed), and the breakers of every processor summarised by the
// worst state ("open on 1 of 3 processors").
func mergePeers(rep *web.StatusReport, snap clusterinfo.Snapshot, local clusterinfo.Histogram) {
	defer func() {
		if snap.QueueKnown {
			rep.QueueDepth, rep.QueueKnown = snap.QueueDepth, true
		}
	}()
	processing := local
	for _, p := range snap.Peers {
		processing.Add(p.Processing)
	}
	setProcessing(rep, processing)
	var states []breaker.State
	if rep.Breaker != "" {
		states = append(states, parseBreakerLabel(rep.Breaker)) // this process's own processor
	}
	for _, p := range snap.Peers {
		rep.Roles = append(rep.Roles, web.RoleHealth{Name: p.Name, Healthy: p.Healthy, Detail: p.Detail})
		if p.QueueKnown {
			rep.QueueDepth += p.QueueDepth
			rep.QueueKnown = true
		}
		if p.BreakerKnown {
			states = append(states, p.Breaker)
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

func setProcessing(rep *web.StatusReport, h clusterinfo.Histogram) {
	if h.Total == 0 {
		return
	}
	rep.ProcessingP50 = h.Quantile(0.5).Round(time.Millisecond)
	rep.ProcessingP95 = h.Quantile(0.95).Round(time.Millisecond)
	rep.ProcessingKnown = true
}
