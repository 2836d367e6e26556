package server

// Background jobs (package jobs): the runner is part of the reconciler role. The reconciler
// already is the role that works over the whole store beside the live pipeline (lease expiry,
// stale pending images), has the store and the publisher a job kind needs, and may run in any
// number of replicas (job leases keep each job to one); the processors stay free for live
// images. It runs beside the reconciler's loop and stops with it, giving its job back for
// another replica to resume.

import "github.com/facecluster/facecluster/jobs"

// newJobRunner builds the reconciler role's job runner with every kind this binary runs.
func (s *Server) newJobRunner() (*jobs.Runner, error) {
	return jobs.New(jobs.Options{
		Store: s.store,
		Handlers: map[string]jobs.Handler{
			jobs.KindRetry: jobs.Retry(s.store, s.producer, s.log),
		},
		// Live images first: a batch starts only when no image is pending or being processed
		// (or after jobs.DefaultMaxYield of waiting).
		Load:       jobs.PipelineLoad(s.store),
		Registerer: s.registry,
		Logger:     s.log,
	})
}
