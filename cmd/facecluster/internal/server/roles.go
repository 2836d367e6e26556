package server

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/internal/auth"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/clusterinfo"
	"github.com/facecluster/facecluster/processor"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/receiver"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/reconciler"
	"github.com/facecluster/facecluster/store"
	"github.com/facecluster/facecluster/web"
)

// This file makes each module's service (lifecycle.go declares them): a thin adapter from the
// role package's own API (Options + New, and Start/Stop, Run, Register or Close) to the one
// lifecycle.

// alwaysReady is the Ready of a service that is ready once started.
type alwaysReady struct{}

func (alwaysReady) Ready(context.Context) error { return nil }

// loop runs a service's long-running function until Stop, reporting an unexpected end.
type loop struct {
	cancel context.CancelFunc
	done   chan struct{}
	failed chan error
}

func startLoop(fn func(ctx context.Context) error) *loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{cancel: cancel, done: make(chan struct{}), failed: make(chan error, 1)}
	go func() {
		defer close(l.done)
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			l.failed <- err
		}
	}()
	return l
}

// stop cancels the loop and waits for it to return, at most until ctx is done.
func (l *loop) stop(ctx context.Context) error {
	l.cancel()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nsqlookupd (role): the embedded nsqlookupd.
type lookupdService struct {
	s *Server
	d *queue.Lookupd
	alwaysReady
}

func newLookupdService(s *Server) (service, error) { return &lookupdService{s: s}, nil }

func (l *lookupdService) Start(context.Context) error {
	s, cfg := l.s, l.s.cfg
	tcpAddr, httpAddr := s.privateAddr("nsqlookupd-tcp-addrs", cfg.NSQLookupdTCPAddrs[0]), s.privateAddr("nsqlookupd-http-addrs", cfg.NSQLookupdHTTPAddrs[0])
	d, err := queue.StartLookupd(queue.LookupdOptions{TCPAddr: tcpAddr, HTTPAddr: httpAddr, Logger: s.log})
	if err != nil {
		return fmt.Errorf("start the embedded nsqlookupd (role nsqlookupd): %w",
			addrsError(err, "nsqlookupd-tcp-addrs", tcpAddr, "nsqlookupd-http-addrs", httpAddr))
	}
	l.d = d
	// A port chosen by the system is the one everyone else in this process must use.
	cfg.NSQLookupdTCPAddrs[0], cfg.NSQLookupdHTTPAddrs[0] = d.TCPAddr(), d.HTTPAddr()
	s.log.Info("nsqlookupd started", "tcp", d.TCPAddr(), "http", d.HTTPAddr())
	return nil
}

func (l *lookupdService) Stop(context.Context) error {
	l.d.Close()
	return nil
}

// nsqd (role): the embedded nsqd, and its depth metric.
type nsqdService struct {
	s *Server
	d *queue.NSQD
}

func newNSQDService(s *Server) (service, error) { return &nsqdService{s: s}, nil }

func (n *nsqdService) Start(context.Context) error {
	s, cfg := n.s, n.s.cfg
	dataDir := filepath.Join(cfg.DataDir, "nsqd")
	tcpAddr, httpAddr := s.privateAddr("nsqd-tcp-addr", cfg.NSQDTCPAddr), s.privateAddr("nsqd-http-addr", cfg.NSQDHTTPAddr)
	d, err := queue.StartNSQD(queue.NSQDOptions{
		DataDir: dataDir, TCPAddr: tcpAddr, HTTPAddr: httpAddr, LookupdTCP: cfg.NSQLookupdTCPAddrs, Broadcast: cfg.NSQDBroadcastAddr, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("start the embedded nsqd (role nsqd): %w", addrsError(err, "nsqd-tcp-addr", tcpAddr, "nsqd-http-addr", httpAddr))
	}
	n.d = d
	cfg.NSQDTCPAddr, cfg.NSQDHTTPAddr = d.TCPAddr(), d.HTTPAddr()
	if err := d.RegisterMetrics(s.registry); err != nil {
		d.Close()
		return err
	}
	s.log.Info("nsqd started", "tcp", d.TCPAddr(), "http", d.HTTPAddr(), "data", dataDir)
	return nil
}

func (n *nsqdService) Ready(context.Context) error { return n.d.Healthy() }

func (n *nsqdService) Stop(context.Context) error {
	n.d.Close() // flushes in-memory messages to the data directory
	return nil
}

// store: the database, and the images-by-status metric.
type storeService struct{ s *Server }

func newStoreService(s *Server) (service, error) { return &storeService{s: s}, nil }

func (st *storeService) Start(ctx context.Context) error {
	s, cfg := st.s, st.s.cfg
	if cfg.DBDriver == store.DriverSQLite {
		if err := os.MkdirAll(filepath.Dir(cfg.DBDSN), 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	db, err := store.OpenWait(ctx, store.Options{Driver: cfg.DBDriver, DSN: cfg.DBDSN, Logger: s.log},
		store.WaitOptions{Timeout: cfg.DBWait, Schema: !cfg.Migrate, Waiting: s.setWaiting})
	if err != nil {
		return fmt.Errorf("open the database (--db-driver %s): %w", cfg.DBDriver, err)
	}
	if cfg.Migrate {
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return fmt.Errorf("migrate the database at start (--migrate; or run facecluster migrate): %w", err)
		}
	}
	if err := registerImagesByStatus(s.registry, db, s.log); err != nil {
		db.Close()
		return err
	}
	s.store = db
	return nil
}

func (st *storeService) Ready(ctx context.Context) error { return st.s.store.Ping(ctx) }

func (st *storeService) Stop(context.Context) error { return st.s.store.Close() }

// blobs: upload storage (--blob-url), for the roles that read or write it.
type blobService struct {
	s *Server
	alwaysReady
}

func newBlobService(s *Server) (service, error) { return &blobService{s: s}, nil }

func (b *blobService) Start(ctx context.Context) error {
	st, err := blob.Open(ctx, b.s.cfg.BlobURL)
	if err != nil {
		return fmt.Errorf("--blob-url: %w", err)
	}
	b.s.blobs = st
	return nil
}

func (b *blobService) Stop(context.Context) error { return b.s.blobs.Close() }

// recognizer (role): the face engine, --known-people enrolment, the gallery and the gRPC
// listener.
type recognizerService struct {
	s    *Server
	rec  *recognizer.Server
	srv  *grpc.Server
	lis  net.Listener
	serv *loop // grpc Serve
	poll *loop // the gallery's Run
	jobs *loop // the runner of the kinds that need the engine (jobs.go)
}

func newRecognizerService(s *Server) (service, error) { return &recognizerService{s: s}, nil }

func (r *recognizerService) Start(ctx context.Context) error {
	s, cfg := r.s, r.s.cfg
	start := time.Now()
	eng, err := face.Load(face.LoadOptions{ModelsDir: cfg.ModelsDir, Logger: s.log})
	if err != nil {
		return fmt.Errorf("load the face engine: %w", err)
	}
	s.log.Info("face engine loaded", "models_dir", eng.ModelsDir(), "took", time.Since(start).String())
	if cfg.KnownPeople != "" {
		rep, err := enroll.Folder(ctx, enroll.Options{
			Engine: eng, Store: s.store, Dir: cfg.KnownPeople, Limits: s.limits(), Logger: s.log,
		})
		if err != nil {
			return fmt.Errorf("enrol --known-people: %w", err)
		}
		s.log.Info("known people enrolled", "folder", cfg.KnownPeople, "photos", rep.Photos, "new", rep.Enrolled,
			"already_enrolled", rep.Existing, "whole_image", len(rep.Whole), "refused", len(rep.Refused), "failed", len(rep.Failed))
	}
	r.rec, err = recognizer.New(recognizer.Options{
		Engine: eng, Store: s.store, ImageRoot: cfg.ImageRoot, Limits: s.limits(), Threshold: cfg.MatchThreshold,
		PollInterval: cfg.GalleryPoll, Registerer: s.registry, Logger: s.log,
	})
	if err != nil {
		return err
	}
	if r.lis, err = s.listenGRPC(); err != nil {
		return err
	}
	r.srv = grpc.NewServer(recognizer.ServerOptions(recognizer.DefaultMaxConnectionAge)...)
	r.rec.Register(r.srv)
	runner, err := s.newEngineJobRunner(eng)
	if err != nil {
		r.lis.Close()
		return err
	}
	r.serv = startLoop(func(context.Context) error { return r.srv.Serve(r.lis) })
	r.poll = startLoop(r.rec.Run)
	r.jobs = startLoop(runner.Run)
	return nil
}

func (r *recognizerService) Ready(context.Context) error { return r.rec.Ready() }

func (r *recognizerService) Failed() <-chan error { return r.serv.failed }

// Stop reports NOT_SERVING (balancers and breakers stop sending work here), stops the gallery
// poll and lets the calls in flight finish until ctx is done.
func (r *recognizerService) Stop(ctx context.Context) error {
	r.rec.Shutdown()
	jobsErr := r.jobs.stop(ctx) // gives a reembed job in hand back at its checkpoint
	pollErr := r.poll.stop(ctx)
	stopped := make(chan struct{})
	go func() { r.srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		r.srv.Stop()
	}
	<-r.serv.done
	return errors.Join(jobsErr, pollErr)
}

func (s *Server) limits() imageio.Limits { return imageio.Limits{MaxPixels: s.cfg.MaxImagePixels} }

// recognizer-client: the gRPC client of the recognizers, for the receiver and processors.
type recognizerClientService struct {
	s *Server
	alwaysReady
}

func newRecognizerClientService(s *Server) (service, error) {
	if s.cfg.RecognizerAddr == "" {
		return nil, nil // the receiver answers 503 to what needs a recognizer
	}
	return &recognizerClientService{s: s}, nil
}

func (c *recognizerClientService) Start(context.Context) error {
	cl, err := recognizer.Dial(c.s.cfg.RecognizerAddr, c.s.registry)
	if err != nil {
		return err
	}
	c.s.client = cl
	return nil
}

func (c *recognizerClientService) Stop(context.Context) error { return c.s.client.Close() }

// producer: publishing image ids to nsqd (--nsqd-tcp-addr), for the receiver and reconciler.
type producerService struct{ s *Server }

func newProducerService(s *Server) (service, error) { return &producerService{s: s}, nil }

func (p *producerService) Start(context.Context) error {
	pr, err := queue.NewProducer(p.s.cfg.NSQDTCPAddr, p.s.log)
	if err != nil {
		return err
	}
	if err := pr.RegisterMetrics(p.s.registry); err != nil {
		pr.Close()
		return err
	}
	p.s.producer = pr
	return nil
}

func (p *producerService) Ready(ctx context.Context) error { return p.s.producer.Ping(ctx) }

func (p *producerService) Stop(context.Context) error {
	p.s.producer.Close() // waits for publishes in flight
	return nil
}

// cluster-queue-depth: where nsqd is a separate program (a Kubernetes or compose sidecar), no
// process reports the embedded nsqd's depth, so the processors and the reconciler report the
// whole queue's, read from every nsqd nsqlookupd knows at scrape time.
func newClusterQueueDepthService(s *Server) (service, error) {
	cfg := s.cfg
	if cfg.Has(config.RoleNSQD) || len(cfg.NSQLookupdHTTPAddrs) == 0 || len(cfg.ConsumeNSQDAddrs) > 0 {
		return nil, nil
	}
	return &clusterQueueDepthService{s: s}, nil
}

type clusterQueueDepthService struct {
	s *Server
	alwaysReady
}

func (c *clusterQueueDepthService) Start(context.Context) error {
	return queue.NewClusterDepth(c.s.cfg.NSQLookupdHTTPAddrs).RegisterMetrics(c.s.registry)
}

func (c *clusterQueueDepthService) Stop(context.Context) error { return nil }

// receiver (role): the HTTP API that takes images in.
type receiverService struct {
	s  *Server
	rc *receiver.Receiver
	alwaysReady
}

func newReceiverService(s *Server) (service, error) { return &receiverService{s: s}, nil }

func (r *receiverService) Start(context.Context) error {
	s, cfg := r.s, r.s.cfg
	opts := receiver.Options{
		Store: s.store, Publisher: s.producer, Blobs: s.blobs, ImageRoot: cfg.ImageRoot, Auth: s.auth(),
		Logger: s.log, MaxPixels: cfg.MaxImagePixels, ModelVersion: face.ModelVersion,
	}
	if s.client != nil {
		opts.Recognizer = s.client.Recognizer()
	}
	rc, err := receiver.New(opts)
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	rc.Register(s.mux)
	r.rc = rc
	return nil
}

// Stop ends the submission workers (the HTTP listener has stopped taking requests).
func (r *receiverService) Stop(context.Context) error { return r.rc.Close() }

func (s *Server) auth() *auth.Auth {
	if len(s.cfg.APITokens) == 0 {
		return nil
	}
	return auth.New(s.cfg.APITokens)
}

// web (role): the UI.
type webService struct {
	s *Server
	w *web.Server
	alwaysReady
}

func newWebService(s *Server) (service, error) { return &webService{s: s}, nil }

func (ws *webService) Start(context.Context) error {
	s, cfg := ws.s, ws.s.cfg
	status := statusSource{s: s}
	if len(cfg.StatusPeers) > 0 {
		peers := make([]clusterinfo.Peer, 0, len(cfg.StatusPeers))
		for _, p := range cfg.StatusPeers {
			peers = append(peers, clusterinfo.Peer{Name: p.Name, URL: p.URL})
		}
		status.cluster = clusterinfo.New(peers, cfg.NSQLookupdHTTPAddrs)
	}
	deps := web.Deps{Store: s.store, Status: status, Pictures: web.NewPictures(s.blobs)}
	// The UI puts work in through the receiver's API: in memory when the receiver runs here,
	// else over HTTP at --receiver-url (without either, uploading is shown as unavailable).
	token := ""
	if len(cfg.APITokens) > 0 {
		token = cfg.APITokens[0]
	}
	switch {
	case cfg.Has(config.RoleReceiver):
		deps.Pipeline = web.NewInProcessReceiverClient(http.Handler(s.mux), token)
	case cfg.ReceiverURL != "":
		deps.Pipeline = web.NewReceiverClient(cfg.ReceiverURL, token, &http.Client{Timeout: 2 * time.Minute})
	}
	w, err := web.New(web.Options{
		CacheDir:     filepath.Join(cfg.DataDir, "thumbs"),
		AccessTokens: cfg.APITokens,
		SessionKey:   []byte(cfg.SessionKey),
		MaxPixels:    cfg.MaxImagePixels,
		// The same decoding as the engine's (EXIF orientation applied), so boxes line up.
		Decode: func(r io.Reader) (image.Image, error) {
			img, _, err := imageio.Decode(r, s.limits())
			return img, err
		},
		Logger: s.log,
	}, deps)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	w.Register(s.mux)
	ws.w = w
	return nil
}

// Stop ends the live-update streams and the poller.
func (ws *webService) Stop(context.Context) error { return ws.w.Close() }

// processor (role): the queue consumer, behind the recognizer's circuit breaker.
type processorService struct {
	s       *Server
	breaker *breaker.Breaker
	proc    *processor.Processor
}

// config requires --recognizer-addr with this role, so the recognizer client runs.
func newProcessorService(s *Server) (service, error) { return &processorService{s: s}, nil }

func (p *processorService) Start(context.Context) error {
	s, cfg := p.s, p.s.cfg
	onChange, err := processor.BreakerMetrics(s.registry)
	if err != nil {
		return err
	}
	p.breaker, err = breaker.New(breaker.Options{
		Name: "recognizer", Threshold: cfg.BreakerThreshold, CoolDown: cfg.BreakerCoolDown, MaxCoolDown: cfg.BreakerMaxCoolDown,
		Probe: s.client.Probe, Logger: s.log, OnStateChange: onChange,
	})
	if err != nil {
		return err
	}
	lookupd := cfg.NSQLookupdHTTPAddrs
	if len(cfg.ConsumeNSQDAddrs) > 0 {
		lookupd = nil
	}
	p.proc, err = processor.New(processor.Options{
		Store: s.store, Recognizer: s.client.Recognizer(), Breaker: p.breaker, Source: s.imageSource(), Registerer: s.registry, Logger: s.log,
		LookupdHTTPAddrs: lookupd, NSQDTCPAddrs: cfg.ConsumeNSQDAddrs, LookupdPoll: lookupdPoll(cfg),
		Concurrency: cfg.Concurrency, MaxAttempts: cfg.MaxAttempts, Lease: cfg.Lease, RetryDelay: cfg.RetryDelay,
		MaxRetryDelay: cfg.MaxRetryDelay, RecognizeTimeout: cfg.RecognizeTimeout, MatchThreshold: cfg.RequestThreshold(),
	})
	if err == nil {
		err = p.proc.Start()
	}
	if err != nil {
		p.breaker.Close()
		return err
	}
	return nil
}

func (p *processorService) Ready(context.Context) error { return p.proc.Ready() }

// Stop stops taking messages; the images in flight finish until ctx is done, then go back.
func (p *processorService) Stop(ctx context.Context) error {
	err := p.proc.Stop(ctx)
	p.breaker.Close()
	return err
}

// lookupdPoll is short when everything runs in this process: the first image should not wait
// for a whole poll interval to find the embedded nsqd.
func lookupdPoll(cfg *config.Config) time.Duration {
	if cfg.Has(config.RoleNSQD) && !cfg.Changed("nsqlookupd-poll") {
		return time.Second
	}
	return cfg.LookupdPoll
}

// imageSource sends path images to the recognizer by reference (it shares the image volume)
// and images kept in blob storage as bytes.
func (s *Server) imageSource() processor.ImageSource {
	return func(ctx context.Context, img *store.Image) (*recognizerv1.Image, error) {
		if img.SourceKind == store.SourcePath || img.SourceKind == "" {
			return processor.PathSource(ctx, img)
		}
		if s.blobs == nil {
			return nil, fmt.Errorf("%w: %s image and no blob storage", processor.ErrBadSource, img.SourceKind)
		}
		data, err := s.blobs.ReadAll(ctx, img.Source, 2*maxEncodedImage)
		switch {
		case err == nil:
			return &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: data}}, nil
		case errors.Is(err, blob.ErrNotFound), errors.Is(err, blob.ErrForeign):
			return nil, fmt.Errorf("%w: %v", processor.ErrBadSource, err)
		default:
			return nil, err // storage unreachable: transient
		}
	}
}

// maxEncodedImage bounds an image read from blob storage for the recognizer (the receiver
// limits uploads well below this).
const maxEncodedImage = 32 << 20

// reconciler (role): the periodic repair passes, and the background jobs (jobs.go).
type reconcilerService struct {
	s    *Server
	loop *loop
	alwaysReady
}

func newReconcilerService(s *Server) (service, error) { return &reconcilerService{s: s}, nil }

func (r *reconcilerService) Start(context.Context) error {
	s, cfg := r.s, r.s.cfg
	rc, err := reconciler.New(reconciler.Options{
		Store: s.store, Publisher: s.producer, Interval: cfg.ReconcileInterval, PendingAge: cfg.PendingAge,
		MaxAttempts: cfg.MaxAttempts, RetryFailed: cfg.RetryFailed, Registerer: s.registry, Logger: s.log,
	})
	if err != nil {
		return err
	}
	runner, err := s.newJobRunner()
	if err != nil {
		return err
	}
	r.loop = startLoop(func(ctx context.Context) error {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return rc.Run(ctx) })
		g.Go(func() error { return runner.Run(ctx) })
		return g.Wait()
	})
	return nil
}

func (r *reconcilerService) Failed() <-chan error { return r.loop.failed }

func (r *reconcilerService) Stop(ctx context.Context) error { return r.loop.stop(ctx) }
