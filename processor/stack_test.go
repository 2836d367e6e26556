package processor_test

import (
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/image/draw"
	"google.golang.org/grpc"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/processor"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/reconciler"
	"github.com/facecluster/facecluster/store"
)

// The tests run the real pipeline: a real store (SQLite, and MySQL where it matters), real
// embedded nsqd + nsqlookupd, a real recognizer over gRPC with the real face engine on the npm
// demo photos, and the real processor.

var (
	engineOnce sync.Once
	engine     *face.Engine
	engineErr  error
)

func testEngine(t testing.TB) *face.Engine {
	t.Helper()
	dir := testutil.ModelsDir(t)
	engineOnce.Do(func() { engine, engineErr = face.Load(face.LoadOptions{ModelsDir: dir}) })
	if engineErr != nil {
		t.Fatalf("load face engine: %v", engineErr)
	}
	return engine
}

type stackOptions struct {
	driver           string // sqlite (default) or mysql
	maxAttempts      int
	breakerThreshold int
	retryDelay       time.Duration
	lease            time.Duration
	noProcessor      bool
	// recognizerThreshold is the recognizer's own match threshold (0: its default);
	// matchThreshold the one the processor sends (0: "use yours").
	recognizerThreshold, matchThreshold float32
}

type stack struct {
	t         testing.TB
	st        *store.Store
	root      string // image root (temp dir with copies/links of the photos)
	lookupd   *queue.Lookupd
	nsqd      *queue.NSQD
	producer  *queue.Producer
	rec       *recognizerProcess
	client    *recognizer.Client
	brk       *breaker.Breaker
	proc      *processor.Processor
	metrics   *prometheus.Registry
	owner     string
	opts      stackOptions
	breakerTo chan breaker.State
}

func openStore(t testing.TB, driver string) *store.Store {
	t.Helper()
	ctx := context.Background()
	var opts store.Options
	switch driver {
	case "", "sqlite":
		opts = store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(t.TempDir(), "fc.db")}
	case "mysql":
		opts = store.Options{Driver: store.DriverMySQL, DSN: testutil.MySQLDSN(t)}
	}
	st, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// recognizerProcess is a recognizer gRPC server that can be stopped and started again on the
// same address (a recognizer going down and coming back).
type recognizerProcess struct {
	t      testing.TB
	addr   string
	server *recognizer.Server
	grpc   *grpc.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func startRecognizer(t testing.TB, st *store.Store, root, addr string) *recognizerProcess {
	t.Helper()
	return startRecognizerWith(t, st, root, addr, 0)
}

func startRecognizerWith(t testing.TB, st *store.Store, root, addr string, threshold float32) *recognizerProcess {
	t.Helper()
	srv, err := recognizer.New(recognizer.Options{Engine: testEngine(t), Store: st, ImageRoot: root, PollInterval: 100 * time.Millisecond, Threshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	for i := 0; ; i++ { // the port of a stopped server may take a moment to be free again
		lis, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	srv.Register(g)
	ctx, cancel := context.WithCancel(context.Background())
	p := &recognizerProcess{t: t, addr: lis.Addr().String(), server: srv, grpc: g, cancel: cancel, done: make(chan struct{})}
	go srv.Run(ctx)
	go func() { g.Serve(lis); close(p.done) }()
	waitFor(t, "recognizer to load its gallery", func() bool { return srv.Ready() == nil })
	t.Cleanup(p.stop)
	return p
}

func (p *recognizerProcess) stop() {
	p.cancel()
	p.grpc.Stop()
	<-p.done
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	if o.maxAttempts == 0 {
		o.maxAttempts = 3
	}
	if o.breakerThreshold == 0 {
		o.breakerThreshold = 5
	}
	if o.retryDelay == 0 {
		o.retryDelay = 50 * time.Millisecond
	}
	if o.lease == 0 {
		o.lease = time.Minute
	}
	s := &stack{t: t, opts: o, metrics: prometheus.NewRegistry(), owner: "test-processor", breakerTo: make(chan breaker.State, 100)}
	s.st = openStore(t, o.driver)
	s.root = t.TempDir()

	var err error
	s.lookupd, err = queue.StartLookupd(queue.LookupdOptions{TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.lookupd.Close)
	s.nsqd, err = queue.StartNSQD(queue.NSQDOptions{DataDir: t.TempDir(), TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", LookupdTCP: []string{s.lookupd.TCPAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.nsqd.Close)
	s.producer, err = queue.NewProducer(s.nsqd.TCPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.producer.Close)

	s.rec = startRecognizerWith(t, s.st, s.root, "", o.recognizerThreshold)
	s.client, err = recognizer.Dial(s.rec.addr, s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.client.Close() })
	s.brk, err = breaker.New(breaker.Options{
		Name: "recognizer", Threshold: o.breakerThreshold, CoolDown: 100 * time.Millisecond, MaxCoolDown: 400 * time.Millisecond,
		Probe: s.client.Probe, OnStateChange: func(_, to breaker.State) { s.breakerTo <- to },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.brk.Close)
	if !o.noProcessor {
		s.startProcessor()
	}
	return s
}

func (s *stack) startProcessor() {
	t := s.t
	p, err := processor.New(processor.Options{
		Store: s.st, Recognizer: s.client.Recognizer(), Breaker: s.brk, Registerer: s.metrics,
		LookupdHTTPAddrs: []string{s.lookupd.HTTPAddr()}, LookupdPoll: 100 * time.Millisecond,
		Concurrency: 2, MaxAttempts: s.opts.maxAttempts, Lease: s.opts.lease, RetryDelay: s.opts.retryDelay,
		MaxRetryDelay: 4 * s.opts.retryDelay, RecognizeTimeout: 20 * time.Second, Owner: s.owner,
		MatchThreshold: s.opts.matchThreshold,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	s.proc = p
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p.Stop(ctx)
	})
}

func (s *stack) reconciler(pendingAge time.Duration) *reconciler.Reconciler {
	r, err := reconciler.New(reconciler.Options{Store: s.st, Publisher: s.producer, PendingAge: pendingAge, MaxAttempts: s.opts.maxAttempts, Registerer: s.metrics})
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// submit inserts path images (relative to the image root) and publishes their ids, as the
// receiver does. It returns the ids in order.
func (s *stack) submit(paths ...string) []int64 {
	s.t.Helper()
	ids := s.insert(paths...)
	if err := s.producer.Publish(context.Background(), ids...); err != nil {
		s.t.Fatal(err)
	}
	return ids
}

// insert only inserts (a publish that never happened).
func (s *stack) insert(paths ...string) []int64 {
	s.t.Helper()
	var imgs []store.NewImage
	for _, p := range paths {
		imgs = append(imgs, store.NewImage{Source: filepath.Join(s.root, p), Kind: store.SourcePath})
	}
	sub, err := s.st.SubmitImages(context.Background(), imgs)
	if err != nil {
		s.t.Fatal(err)
	}
	ids := make([]int64, len(sub))
	for i, x := range sub {
		ids[i] = x.ID
	}
	return ids
}

func (s *stack) image(id int64) *store.Image {
	s.t.Helper()
	img, err := s.st.GetImage(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return img
}

// waitStatus waits until image id is in a final status and returns the image.
func (s *stack) waitFinal(id int64, within time.Duration) *store.Image {
	s.t.Helper()
	var img *store.Image
	deadline := time.Now().Add(within)
	for {
		img = s.image(id)
		if img.Status.Final() {
			return img
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("image %d still %s after %s (attempts %d, last error %q)", id, img.Status, within, img.Attempts, img.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// linkDemo copies a demo photo under the image root (a temporary directory: the photos are
// never copied into the repository; a symlink would point outside the root and be refused).
func (s *stack) linkDemo(name string) string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.DemoDir(s.t), name))
	if err != nil {
		s.t.Fatal(err)
	}
	return s.writeFile(name, b)
}

// writeFile writes a file under the image root.
func (s *stack) writeFile(name string, data []byte) string {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.root, name), data, 0o644); err != nil {
		s.t.Fatal(err)
	}
	return name
}

// blankPNG writes an image without faces.
func (s *stack) blankPNG(name string) string {
	s.t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := 0; y < 240; y++ {
		for x := 0; x < 320; x++ {
			img.Set(x, y, color.RGBA{uint8(x / 2), 120, uint8(y), 255})
		}
	}
	f, err := os.Create(filepath.Join(s.root, name))
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		s.t.Fatal(err)
	}
	return name
}

// knownCrop writes a tight crop of one face of a demo photo (as the engine sees the photo) to
// dir/person.jpg and returns that face's box in the photo: a known-people folder made from the
// demo photos in a temporary directory.
func knownCrop(t testing.TB, dir, photo, person string, pick func([]face.Face) int) face.Box {
	t.Helper()
	img, _, err := imageio.DecodeFile(filepath.Join(testutil.DemoDir(t), photo), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	faces, err := testEngine(t).Analyze(context.Background(), img, face.Options{})
	if err != nil || len(faces) == 0 {
		t.Fatalf("analyze %s: %d faces, %v", photo, len(faces), err)
	}
	b := faces[pick(faces)].Box
	// Grow the box by 40% so the crop still shows a whole face.
	r := image.Rect(int(b.X-0.2*b.W), int(b.Y-0.2*b.H), int(b.X+1.2*b.W), int(b.Y+1.2*b.H)).Intersect(img.Bounds())
	crop := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Copy(crop, image.Point{}, img, r, draw.Src, nil)
	f, err := os.Create(filepath.Join(dir, person+".jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, crop, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b
}

// rightmost picks the face farthest right.
func rightmost(faces []face.Face) int {
	best := 0
	for i, f := range faces {
		if f.Box.X > faces[best].Box.X {
			best = i
		}
	}
	return best
}

// enrol enrols a known-people folder through the real enrolment path.
func (s *stack) enrol(dir string) enroll.Report {
	s.t.Helper()
	rep, err := enroll.Folder(context.Background(), enroll.Options{Engine: testEngine(s.t), Store: s.st, Dir: dir})
	if err != nil {
		s.t.Fatal(err)
	}
	return rep
}

// link makes name a symlink to target, both inside the image root.
func (s *stack) link(target, name string) {
	s.t.Helper()
	if err := os.Symlink(target, filepath.Join(s.root, name)); err != nil {
		s.t.Fatal(err)
	}
}
