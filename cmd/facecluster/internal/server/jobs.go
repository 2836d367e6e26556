package server

// Background jobs (package jobs): the runner is part of the reconciler role. The reconciler
// already is the role that works over the whole store beside the live pipeline (lease expiry,
// stale pending images), has the store and the publisher a job kind needs, and may run in any
// number of replicas (job leases keep each job to one); the processors stay free for live
// images. It runs beside the reconciler's loop and stops with it, giving its job back for
// another replica to resume.

// The kinds that need the face engine (reembed) run in a second runner, in the recognizer
// role's process, which has the engine loaded: a runner claims only the kinds it has handlers
// for, so a reembed job waits for a recognizer and a retry job for a reconciler, whichever
// processes they run in.

import (
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/recognizer"
)

// newJobRunner builds the reconciler role's job runner: the kinds that need only the store and the queue.
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

// newEngineJobRunner builds the recognizer role's job runner: the kinds that need eng.
func (s *Server) newEngineJobRunner(eng *face.Engine) (*jobs.Runner, error) {
	reembed, err := recognizer.Reembed(recognizer.ReembedOptions{
		Engine: eng, Store: s.store, Blobs: s.blobs, Root: s.cfg.ImageRoot, Limits: s.limits(), Logger: s.log,
	})
	if err != nil {
		return nil, err
	}
	return jobs.New(jobs.Options{
		Store:    s.store,
		Handlers: map[string]jobs.Handler{jobs.KindReembed: reembed},
		// Re-embedding takes the engine from live images: it waits for an idle pipeline as
		// retries do (or jobs.DefaultMaxYield).
		Load:       jobs.PipelineLoad(s.store),
		Registerer: s.registry,
		Logger:     s.log,
	})
}
