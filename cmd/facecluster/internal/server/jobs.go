package server

// Background jobs (package jobs) — kept in this file, apart from server.go's lifecycle, so the
// wiring moves as one block: the runner is part of the reconciler role. The reconciler already
// is the role that works over the whole store beside the live pipeline (lease expiry, stale
// pending images), has the store and the publisher a job kind needs, and may run in any number
// of replicas (job leases keep each job to one); the processors stay free for live images.
// Its lifecycle: built in New after the reconciler (startJobs), run in Run's store-using loops
// until shutdown, when it gives its job back for another replica to resume.

import (
	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/jobs"
)

// startJobs builds the job runner of the reconciler role with every kind this binary runs.
func (s *Server) startJobs() error {
	if !s.cfg.Has(config.RoleReconciler) {
		return nil
	}
	r, err := jobs.New(jobs.Options{
		Store: s.store,
		Handlers: map[string]jobs.Handler{
			jobs.KindRetry: jobs.Retry(s.store, s.publisher(), s.log),
		},
		// Live images first: a batch starts only when no image is pending or being processed
		// (or after jobs.DefaultMaxYield of waiting).
		Load:       jobs.PipelineLoad(s.store),
		Registerer: s.metrics.Registry,
		Logger:     s.log,
	})
	if err != nil {
		return err
	}
	s.jobs = r
	return nil
}
