// Package server wires the roles chosen with `facecluster serve --roles=…` into one process:
// the embedded NSQ daemons, the store, the recognizer (gRPC), processors, the reconciler, and
// the one HTTP listener that carries the receiver API, the web UI, /healthz, /readyz and
// /metrics.
//
// Every role, and everything roles share (the store, the queue producer, …), is a service with
// one lifecycle — Start, Stop, Ready — declared in a module table with its dependencies
// (lifecycle.go). New starts the modules --roles needs in dependency order; Run serves until
// its context ends or a service fails, then stops them in reverse order. The roles' packages
// own their work; this package owns only the order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/httpjson"
	"github.com/facecluster/facecluster/internal/metrics"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

// Server is a running set of roles.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	mux      *http.ServeMux
	http     *httpMetrics

	httpSrv  *http.Server
	httpLis  net.Listener
	httpDone chan error // the HTTP server's Serve result

	// What several services share, set by the Start of the one that makes it (the dependency
	// order has it ready for those that use it).
	store    *store.Store
	blobs    *blob.Store
	producer *queue.Producer
	client   *recognizer.Client
	grpcAddr string // the recognizer's listener

	mu       sync.Mutex
	started  []startedService // in start order
	stopping bool
	ready    bool   // New finished: every route is registered
	waiting  string // what New waits for (the database), for /readyz
}

// New starts the modules cfg's roles need, in dependency order, and returns once they serve
// (Run keeps them running). On error, whatever was started is stopped again.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Server, err error) {
	reg := metrics.NewRegistry()
	s := &Server{cfg: cfg, log: log, registry: reg, mux: http.NewServeMux()}
	if s.http, err = newHTTPMetrics(reg); err != nil {
		return nil, err
	}
	plan, err := plan(cfg)
	if err != nil {
		return nil, err
	}
	// The HTTP listener belongs to the process, not to a role: it comes first, so that while the
	// process waits for the database /healthz says it is alive (a liveness probe must not restart
	// it) and /readyz that it is not ready yet.
	if err := s.listenHTTP(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			s.drainHTTP(sctx)
			for i := len(s.started) - 1; i >= 0; i-- {
				s.stopService(sctx, s.started[i])
			}
		}
	}()
	for _, name := range plan {
		svc, err := modules[name].new(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if svc == nil {
			continue // not needed in this configuration
		}
		if err := svc.Start(ctx); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.started = append(s.started, startedService{name: name, check: modules[name].check, svc: svc})
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.ready, s.waiting = true, ""
	s.mu.Unlock()
	return s, nil
}

// listenHTTP listens on --http-addr and serves /healthz, /readyz and /metrics at once; the
// roles' routes answer 503 until New has finished.
func (s *Server) listenHTTP() error {
	var err error
	s.httpLis, err = net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return listenError("http-addr", s.cfg.HTTPAddr, err)
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", metrics.Handler(s.registry))
	s.httpSrv = &http.Server{Handler: s.http.instrument(s.startupGate(s.mux)), ReadHeaderTimeout: 10 * time.Second}
	s.httpDone = make(chan error, 1)
	go func() { s.httpDone <- s.httpSrv.Serve(s.httpLis) }()
	return nil
}

// drainHTTP stops taking requests: /readyz turns 503 and the requests in flight finish.
func (s *Server) drainHTTP(ctx context.Context) {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	if err := s.httpSrv.Shutdown(ctx); err != nil {
		s.log.Warn("http shutdown", "err", err.Error())
	}
}

// startupGate answers 503 on every route but the health and metrics endpoints until New has
// finished starting the roles.
func (s *Server) startupGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ready, waiting := s.ready, s.waiting
		s.mu.Unlock()
		switch {
		case ready, r.URL.Path == "/healthz", r.URL.Path == "/readyz", r.URL.Path == "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "5")
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"error": startingMessage(waiting)})
	})
}

func startingMessage(waiting string) string {
	if waiting != "" {
		return "starting: waiting for " + waiting
	}
	return "starting"
}

func (s *Server) setWaiting(what string) {
	s.mu.Lock()
	s.waiting = what
	s.mu.Unlock()
}

// healthz says the process is alive (it answers); it does not depend on anything else.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{"status": "ok", "roles": s.cfg.Roles})
}

// check is one named readiness check of /readyz and the status page.
type check struct {
	name string
	err  error
}

// checks asks every started service that reports readiness whether it is ready, in name
// order; before New has finished, a "startup" check says what it waits for.
func (s *Server) checks(ctx context.Context) []check {
	s.mu.Lock()
	ready, waiting := s.ready, s.waiting
	started := s.started
	s.mu.Unlock()
	var out []check
	if !ready {
		out = append(out, check{"startup", errors.New(startingMessage(waiting))})
		return out // s.started is still growing
	}
	for _, st := range started {
		if st.check != "" {
			out = append(out, check{st.check, st.svc.Ready(ctx)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// readyz says whether this process should get traffic: every service is ready.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	results := map[string]string{}
	ok := !stopping
	for _, c := range s.checks(ctx) {
		results[c.name] = "ok"
		if c.err != nil {
			results[c.name] = c.err.Error()
			ok = false
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
func (s *Server) GRPCAddr() string { return s.grpcAddr }

// Store is the process's store (for tests and tools).
func (s *Server) Store() *store.Store { return s.store }

// Run serves until ctx is done or a service fails, then shuts down gracefully within
// --shutdown-timeout: first the HTTP listener stops taking requests (/readyz turns 503), then
// the services stop in the reverse of their start order — processors finish or give back the
// images they hold before the recognizer, the queue and the store go.
//
// The stop is an oklog/run group: the first actor to return (the context, or a failed service)
// interrupts all, and interrupts run one after another in the order added.
func (s *Server) Run(ctx context.Context) error {
	var (
		g        run.Group
		stopOnce sync.Once
		sctx     context.Context
		cancel   context.CancelFunc = func() {}
	)
	defer func() { cancel() }()
	// The shutdown deadline starts when shutting down starts.
	shutdownCtx := func() context.Context {
		stopOnce.Do(func() { sctx, cancel = context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout) })
		return sctx
	}

	interrupted := make(chan struct{})
	g.Add(func() error {
		select {
		case <-ctx.Done():
			s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
		case <-interrupted:
		}
		return nil
	}, func(error) { close(interrupted) })

	httpStopped := make(chan struct{})
	g.Add(func() error {
		select {
		case err := <-s.httpDone:
			if !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
		case <-httpStopped:
		}
		return nil
	}, func(error) {
		s.drainHTTP(shutdownCtx())
		close(httpStopped)
	})

	for i := len(s.started) - 1; i >= 0; i-- {
		st := s.started[i]
		stopped := make(chan struct{})
		g.Add(func() error {
			select {
			case err := <-failures(st.svc):
				return fmt.Errorf("%s: %w", st.name, err)
			case <-stopped:
				return nil
			}
		}, func(error) {
			s.stopService(shutdownCtx(), st)
			close(stopped)
		})
	}

	s.log.Info("facecluster serving", "roles", s.cfg.Roles, "http", s.HTTPAddr(), "grpc", s.GRPCAddr())
	err := g.Run()
	if err != nil {
		s.log.Error("a service failed; stopped the others", "err", err.Error())
	}
	s.log.Info("stopped")
	return err
}

func (s *Server) stopService(ctx context.Context, st startedService) {
	if err := st.svc.Stop(ctx); err != nil {
		s.log.Warn("stop "+st.name, "err", err.Error())
	}
}
