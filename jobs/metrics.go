package jobs

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/internal/metrics"
)

// Metric names of a Runner (registered through Options.Registerer).
const (
	MetricItems    = "facecluster_job_items_total"
	MetricHeldBack = "facecluster_job_held_back_seconds_total"
	MetricRuns     = "facecluster_job_runs_total"
)

// Outcomes of a runner's turn with a job (the outcome label of MetricRuns).
const (
	outcomeDone      = "done"
	outcomeFailed    = "failed"
	outcomeCancelled = "cancelled"
	outcomeGivenBack = "given_back" // the runner stopped cleanly
	outcomeLost      = "lost"       // lease lost, or a write failed: another runner resumes
)

type runnerMetrics struct {
	items    *prometheus.CounterVec // kind
	heldBack *prometheus.CounterVec // kind
	runs     *prometheus.CounterVec // kind, outcome
}

func newRunnerMetrics(reg prometheus.Registerer) (*runnerMetrics, error) {
	m := &runnerMetrics{
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricItems,
			Help: "Items background jobs did (in each kind's unit: retry counts images, reembed examples and faces), by kind."}, []string{"kind"}),
		heldBack: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricHeldBack,
			Help: "Time background jobs were held back for live images, by kind."}, []string{"kind"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRuns,
			Help: "Runs of background jobs in this process by how they ended: done, failed, cancelled, given_back (stopped cleanly), lost (taken over or unwritable)."},
			[]string{"kind", "outcome"}),
	}
	// Shared by the runners of one process (the reconciler's and the recognizer's).
	var err error
	if m.items, err = metrics.Register(reg, m.items); err != nil {
		return nil, err
	}
	if m.heldBack, err = metrics.Register(reg, m.heldBack); err != nil {
		return nil, err
	}
	if m.runs, err = metrics.Register(reg, m.runs); err != nil {
		return nil, err
	}
	return m, nil
}
