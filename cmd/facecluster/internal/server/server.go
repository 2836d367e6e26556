// Package server wires the roles chosen with `facecluster serve --roles=…` into one process:
// the embedded NSQ daemons, the store, the recognizer (gRPC), processors, the reconciler, and
// the one HTTP listener that carries the receiver API, the web UI, /healthz, /readyz and
// /metrics. It owns start order and graceful shutdown; the roles' packages own their work.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/httpjson"
	"github.com/facecluster/facecluster/internal/metrics"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/processor"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/reconciler"
	"github.com/facecluster/facecluster/store"
	"github.com/facecluster/facecluster/web"
)

// Server is a running set of roles.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *metrics.Metrics
	mux     *http.ServeMux

	lookupd    *queue.Lookupd
	nsqd       *queue.NSQD
	store      *store.Store
	engine     *face.Engine
	recognizer *recognizer.Server
	grpcSrv    *grpc.Server
	grpcLis    net.Listener
	client     *recognizer.Client
	breaker    *breaker.Breaker
	producer   *queue.Producer
	processor  *processor.Processor
	reconciler *reconciler.Reconciler
	jobs       *jobs.Runner // background jobs, with the reconciler role (jobs.go)
	web        *web.Server
	blobs      *blob.Store
	httpSrv    *http.Server
	httpLis    net.Listener

	httpDone chan error // the HTTP server's Serve result

	mu       sync.Mutex
	checks   map[string]func(context.Context) error
	stopping bool
	started  bool   // New finished: every route is registered
	waiting  string // what New waits for (the database), for /readyz
}

// New starts every role of cfg except the long-running loops (Run starts those). On error,
// whatever was started is stopped again.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log, metrics: metrics.New(), mux: http.NewServeMux(), checks: map[string]func(context.Context) error{}}
	defer func() {
		if err != nil {
			s.shutdown(context.Background())
		}
	}()
	// The HTTP listener comes first: while the process waits for the database, /healthz says it
	// is alive (a liveness probe must not restart it) and /readyz that it is not ready yet.
	if err := s.startHTTP(); err != nil {
		return nil, err
	}
	if err := s.startQueue(); err != nil {
		return nil, err
	}
	if err := s.openStore(ctx); err != nil {
		return nil, err
	}
	if err := s.startRecognizer(ctx); err != nil {
		return nil, err
	}
	if err := s.startClients(); err != nil {
		return nil, err
	}
	if err := s.registerRoles(ctx); err != nil {
		return nil, err
	}
	if err := s.startProcessor(); err != nil {
		return nil, err
	}
	if s.nsqd == nil && (cfg.Has(config.RoleProcessor) || cfg.Has(config.RoleReconciler)) &&
		len(cfg.NSQLookupdHTTPAddrs) > 0 && len(cfg.ConsumeNSQDAddrs) == 0 {
		// nsqd is a separate program (a Kubernetes or compose sidecar), so no process reports
		// facecluster_queue_depth: the processors and the reconciler report the whole queue,
		// read from every nsqd nsqlookupd knows at scrape time (at most every 2 s).
		depth := newPeerStatus(nil, cfg.NSQLookupdHTTPAddrs)
		s.metrics.ClusterQueueDepth(func() (int64, bool) { return depth.cachedDepth(context.Background()) })
	}
	if cfg.Has(config.RoleReconciler) {
		s.reconciler, err = reconciler.New(reconciler.Options{
			Store: s.store, Publisher: s.publisher(), Interval: cfg.ReconcileInterval, PendingAge: cfg.PendingAge,
			MaxAttempts: cfg.MaxAttempts, RetryFailed: cfg.RetryFailed, Metrics: s.metrics, Logger: log,
		})
		if err != nil {
			return nil, err
		}
	}
	if err := s.startJobs(); err != nil { // background jobs: jobs.go
		return nil, err
	}
	s.mu.Lock()
	s.started, s.waiting = true, ""
	delete(s.checks, "startup")
	s.mu.Unlock()
	return s, nil
}

// startHTTP listens on --http-addr and serves /healthz, /readyz and /metrics at once; the roles'
// routes answer 503 until New has finished.
func (s *Server) startHTTP() error {
	var err error
	s.httpLis, err = net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w", s.cfg.HTTPAddr, err)
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metrics.Handler())
	s.addCheck("startup", func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.waiting != "" {
			return fmt.Errorf("starting: waiting for %s", s.waiting)
		}
		return errors.New("starting")
	})
	s.httpSrv = &http.Server{Handler: s.metrics.Instrument(s.startupGate(s.mux)), ReadHeaderTimeout: 10 * time.Second}
	s.httpDone = make(chan error, 1)
	go func() { s.httpDone <- s.httpSrv.Serve(s.httpLis) }()
	return nil
}

// startupGate answers 503 on every route but the health and metrics endpoints until New has
// finished wiring the roles.
func (s *Server) startupGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		started, waiting := s.started, s.waiting
		s.mu.Unlock()
		switch {
		case started, r.URL.Path == "/healthz", r.URL.Path == "/readyz", r.URL.Path == "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		msg := "starting"
		if waiting != "" {
			msg = "starting: waiting for " + waiting
		}
		w.Header().Set("Retry-After", "5")
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"error": msg})
	})
}

func (s *Server) setWaiting(what string) {
	s.mu.Lock()
	s.waiting = what
	s.mu.Unlock()
}

func (s *Server) startQueue() error {
	cfg := s.cfg
	if cfg.Has(config.RoleNSQLookupd) {
		l, err := queue.StartLookupd(queue.LookupdOptions{TCPAddr: cfg.NSQLookupdTCPAddrs[0], HTTPAddr: cfg.NSQLookupdHTTPAddrs[0], Logger: s.log})
		if err != nil {
			return fmt.Errorf("start the embedded nsqlookupd (role nsqlookupd): %w", err)
		}
		s.lookupd = l
		// A port chosen by the system (":0", in tests) is the one everyone else must use.
		cfg.NSQLookupdTCPAddrs[0], cfg.NSQLookupdHTTPAddrs[0] = l.TCPAddr(), l.HTTPAddr()
		s.log.Info("nsqlookupd started", "tcp", l.TCPAddr(), "http", l.HTTPAddr())
	}
	if cfg.Has(config.RoleNSQD) {
		d, err := queue.StartNSQD(queue.NSQDOptions{
			DataDir: filepath.Join(cfg.DataDir, "nsqd"), TCPAddr: cfg.NSQDTCPAddr, HTTPAddr: cfg.NSQDHTTPAddr,
			LookupdTCP: cfg.NSQLookupdTCPAddrs, Broadcast: cfg.NSQDBroadcastAddr, Logger: s.log,
		})
		if err != nil {
			return fmt.Errorf("start the embedded nsqd (role nsqd): %w", err)
		}
		s.nsqd = d
		cfg.NSQDTCPAddr, cfg.NSQDHTTPAddr = d.TCPAddr(), d.HTTPAddr()
		s.addCheck("nsqd", func(context.Context) error { return d.Healthy() })
		s.metrics.QueueDepth(d.Depth)
		s.log.Info("nsqd started", "tcp", d.TCPAddr(), "http", d.HTTPAddr(), "data", filepath.Join(cfg.DataDir, "nsqd"))
	}
	return nil
}

func (s *Server) openStore(ctx context.Context) error {
	cfg := s.cfg
	if cfg.DBDriver == store.DriverSQLite {
		if err := os.MkdirAll(filepath.Dir(cfg.DBDSN), 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	st, err := store.OpenWait(ctx, store.Options{Driver: cfg.DBDriver, DSN: cfg.DBDSN, Logger: s.log},
		store.WaitOptions{Timeout: cfg.DBWait, Schema: !cfg.Migrate, Waiting: s.setWaiting})
	if err != nil {
		return fmt.Errorf("open the database (--db-driver %s): %w", cfg.DBDriver, err)
	}
	s.store = st
	if cfg.Migrate {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate the database at start (--migrate; or run facecluster migrate): %w", err)
		}
	}
	s.addCheck("database", st.Ping)
	s.metrics.ImagesByStatus(func(ctx context.Context) (map[string]int64, error) {
		counts, err := st.CountByStatus(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]int64, len(counts))
		for k, v := range counts {
			out[string(k)] = v
		}
		return out, nil
	}, 2*time.Second, s.log)
	return nil
}

func (s *Server) startRecognizer(ctx context.Context) error {
	cfg := s.cfg
	if !cfg.Has(config.RoleRecognizer) {
		return nil
	}
	start := time.Now()
	eng, err := face.Load(face.LoadOptions{ModelsDir: cfg.ModelsDir, Logger: s.log})
	if err != nil {
		return fmt.Errorf("load the face engine: %w", err)
	}
	s.engine = eng
	s.log.Info("face engine loaded", "models_dir", eng.ModelsDir(), "took", time.Since(start).String())

	if cfg.KnownPeople != "" {
		rep, err := enroll.Folder(ctx, enroll.Options{
			Engine: eng, Store: s.store, Dir: cfg.KnownPeople, Limits: s.limits(), Logger: s.log,
		})
		if err != nil {
			return fmt.Errorf("enrol --known-people: %w", err)
		}
		s.log.Info("known people enrolled", "folder", cfg.KnownPeople, "photos", rep.Photos, "new", rep.Enrolled,
			"already_enrolled", rep.Existing, "whole_image", len(rep.Whole), "failed", len(rep.Failed))
	}
	s.recognizer, err = recognizer.New(recognizer.Options{
		Engine: eng, Store: s.store, ImageRoot: cfg.ImageRoot, Limits: s.limits(), Threshold: cfg.MatchThreshold,
		PollInterval: cfg.GalleryPoll, Metrics: s.metrics, Logger: s.log,
	})
	if err != nil {
		return err
	}
	s.grpcSrv = grpc.NewServer(recognizer.ServerOptions(recognizer.DefaultMaxConnectionAge)...)
	s.recognizer.Register(s.grpcSrv)
	s.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen on --grpc-addr %s: %w", cfg.GRPCAddr, err)
	}
	if strings.HasSuffix(cfg.RecognizerAddr, ":0") {
		// The in-process client follows a port chosen by the system.
		cfg.RecognizerAddr = s.grpcLis.Addr().String()
	}
	s.addCheck("recognizer", func(context.Context) error { return s.recognizer.Ready() })
	return nil
}

func (s *Server) limits() imageio.Limits { return imageio.Limits{MaxPixels: s.cfg.MaxImagePixels} }

func (s *Server) startClients() error {
	cfg := s.cfg
	var err error
	if cfg.RecognizerAddr != "" && (cfg.Has(config.RoleProcessor) || cfg.Has(config.RoleReceiver)) {
		s.client, err = recognizer.Dial(cfg.RecognizerAddr, s.metrics)
		if err != nil {
			return err
		}
	}
	if cfg.Has(config.RoleReceiver) || cfg.Has(config.RoleReconciler) {
		s.producer, err = queue.NewProducer(cfg.NSQDTCPAddr, s.log)
		if err != nil {
			return err
		}
		s.addCheck("nsqd-publish", s.producer.Ping)
	}
	return nil
}

func (s *Server) startProcessor() error {
	cfg := s.cfg
	if !cfg.Has(config.RoleProcessor) {
		return nil
	}
	var err error
	s.breaker, err = breaker.New(breaker.Options{
		Name: "recognizer", Threshold: cfg.BreakerThreshold, CoolDown: cfg.BreakerCoolDown, MaxCoolDown: cfg.BreakerMaxCoolDown,
		Probe: s.client.Probe, Logger: s.log,
		OnStateChange: func(_, to breaker.State) {
			s.metrics.BreakerState.Set(float64(to))
			s.metrics.BreakerChanges.WithLabelValues(to.String()).Inc()
		},
	})
	if err != nil {
		return err
	}
	lookupd := cfg.NSQLookupdHTTPAddrs
	if len(cfg.ConsumeNSQDAddrs) > 0 {
		lookupd = nil
	}
	s.processor, err = processor.New(processor.Options{
		Store: s.store, Recognizer: s.client.Recognizer(), Breaker: s.breaker, Source: s.imageSource(), Metrics: s.metrics, Logger: s.log,
		LookupdHTTPAddrs: lookupd, NSQDTCPAddrs: cfg.ConsumeNSQDAddrs, LookupdPoll: lookupdPoll(cfg),
		Concurrency: cfg.Concurrency, MaxAttempts: cfg.MaxAttempts, Lease: cfg.Lease, RetryDelay: cfg.RetryDelay,
		MaxRetryDelay: cfg.MaxRetryDelay, RecognizeTimeout: cfg.RecognizeTimeout, MatchThreshold: cfg.RequestThreshold(),
	})
	if err != nil {
		return err
	}
	s.addCheck("processor", func(context.Context) error { return s.processor.Ready() })
	return nil
}

// lookupdPoll is short when everything runs in this process: the first image should not wait
// for a whole poll interval to find the embedded nsqd.
func lookupdPoll(cfg *config.Config) time.Duration {
	if cfg.Has(config.RoleNSQD) && !cfg.Changed("nsqlookupd-poll") {
		return time.Second
	}
	return cfg.LookupdPoll
}

// publisher counts publishes and failures.
func (s *Server) publisher() *countingPublisher {
	return &countingPublisher{p: s.producer, m: s.metrics}
}

type countingPublisher struct {
	p *queue.Producer
	m *metrics.Metrics
}

func (c *countingPublisher) Publish(ctx context.Context, ids ...int64) error {
	if err := c.p.Publish(ctx, ids...); err != nil {
		c.m.PublishErrors.Inc()
		return err
	}
	c.m.Published.Add(float64(len(ids)))
	return nil
}

func (s *Server) addCheck(name string, fn func(context.Context) error) {
	s.mu.Lock()
	s.checks[name] = fn
	s.mu.Unlock()
}

// healthz says the process is alive (it answers); it does not depend on anything else.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{"status": "ok", "roles": s.cfg.Roles})
}

// readyz says whether this process should get traffic: every check of its roles passes.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	stopping := s.stopping
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	results := map[string]string{}
	ok := !stopping
	for _, n := range names {
		s.mu.Lock()
		fn := s.checks[n]
		s.mu.Unlock()
		if err := fn(ctx); err != nil {
			results[n] = err.Error()
			ok = false
		} else {
			results[n] = "ok"
		}
	}
	body := map[string]any{"status": "ok", "checks": results}
	code := http.StatusOK
	if !ok {
		body["status"] = "unavailable"
		if stopping {
			body["status"] = "shutting down"
		}
		code = http.StatusServiceUnavailable
	}
	httpjson.Write(w, code, body)
}

// HTTPAddr is the address the HTTP listener got (useful with port 0).
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// GRPCAddr is the recognizer's listener address, "" without the role.
func (s *Server) GRPCAddr() string {
	if s.grpcLis == nil {
		return ""
	}
	return s.grpcLis.Addr().String()
}

// Store is the process's store (for tests and tools).
func (s *Server) Store() *store.Store { return s.store }

// Run serves until ctx is done, then shuts down gracefully: stop taking HTTP requests, let
// processors finish or requeue in-flight images, stop the recognizer and the queue.
func (s *Server) Run(ctx context.Context) error {
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	var wg, loops sync.WaitGroup // servers; loops that use the store
	errc := make(chan error, 8)
	goRun := func(name string, fn func() error) {
		group := &wg
		if name == "reconciler" || name == "recognizer gallery" || name == "jobs" {
			group = &loops
		}
		group.Add(1)
		go func() {
			defer group.Done()
			if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	if s.recognizer != nil {
		goRun("recognizer gallery", func() error { return s.recognizer.Run(runCtx) })
		goRun("grpc", func() error { return s.grpcSrv.Serve(s.grpcLis) })
	}
	if s.processor != nil {
		if err := s.processor.Start(); err != nil {
			cancelRun()
			loops.Wait()
			s.shutdown(context.Background())
			wg.Wait()
			return err
		}
	}
	if s.reconciler != nil {
		goRun("reconciler", func() error { return s.reconciler.Run(runCtx) })
	}
	if s.jobs != nil { // background jobs: jobs.go
		goRun("jobs", func() error { return s.jobs.Run(runCtx) })
	}
	goRun("http", func() error { return <-s.httpDone })
	s.log.Info("facecluster serving", "roles", s.cfg.Roles, "http", s.HTTPAddr(), "grpc", s.GRPCAddr())

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	case runErr = <-errc:
		s.log.Error("a role failed; shutting down", "error", runErr.Error())
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.stopIntake(sctx)
	cancelRun()
	loops.Wait()
	s.shutdown(sctx)
	wg.Wait()
	return runErr
}

// stopIntake stops taking work: /readyz turns 503, HTTP requests in flight finish, processors
// finish (or give back) the images they hold.
func (s *Server) stopIntake(ctx context.Context) {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	if s.httpSrv != nil {
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			s.log.Warn("http shutdown", "error", err.Error())
		}
	}
	if s.processor != nil {
		if err := s.processor.Stop(ctx); err != nil {
			s.log.Warn("processor shutdown", "error", err.Error())
		}
	}
}

// shutdown stops in dependency order; it is safe on a partly started server.
func (s *Server) shutdown(ctx context.Context) {
	s.stopIntake(ctx)
	if s.breaker != nil {
		s.breaker.Close()
	}
	if s.web != nil {
		s.web.Close()
	}
	if s.recognizer != nil {
		s.recognizer.Shutdown()
	}
	if s.grpcSrv != nil {
		stopped := make(chan struct{})
		go func() { s.grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			s.grpcSrv.Stop()
		}
	} else if s.grpcLis != nil {
		s.grpcLis.Close()
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.producer != nil {
		s.producer.Close()
	}
	if s.nsqd != nil {
		s.nsqd.Close()
	}
	if s.lookupd != nil {
		s.lookupd.Close()
	}
	if s.blobs != nil {
		s.blobs.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	s.log.Info("stopped")
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
