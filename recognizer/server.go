// Package recognizer is the gRPC service that runs the face engine (package face) and keeps the
// gallery of enrolled people (package gallery) in memory, plus its client.
//
// The gallery is loaded from the store at start and updated whenever the store's gallery
// version changes (polled every Options.PollInterval, at most 1 s), so an enrolment reaches every
// replica within 2 s. The standard grpc.health.v1 service reports SERVING once the first
// gallery load is done and NOT_SERVING while shutting down; processors' circuit breakers probe it.
package recognizer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/gallery"
	"github.com/facecluster/facecluster/internal/imageroot"
	"github.com/facecluster/facecluster/store"
)

// ServiceName is the gRPC service name, also used in health checks.
const ServiceName = "facecluster.recognizer.v1.RecognizerService"

// GalleryStore is what the recognizer needs of *store.Store.
type GalleryStore interface {
	GalleryVersion(ctx context.Context) (int64, error)
	StreamGallery(ctx context.Context, begin func(version int64, count int) error, row func(*store.GalleryRow) error) error
	GalleryChanges(ctx context.Context, since int64) (store.GalleryDelta, error)
}

// Options configure a Server.
type Options struct {
	Engine    *face.Engine
	Store     GalleryStore
	ImageRoot string         // path references must resolve inside it (required for path images)
	Limits    imageio.Limits // decoding limits (pixel bomb protection)
	// Threshold is the match threshold of requests that do not set one: the recognizer owns
	// matching, so this is the setting that normally applies.
	Threshold    float32
	PollInterval time.Duration // gallery version poll
	Concurrency  int           // analyses at once
	Logger       *slog.Logger

	// Registerer gets the recognizer's gallery metrics [none: recorded, not exported].
	Registerer prometheus.Registerer
}

// DefaultOptions returns the settings New uses for those left zero; facecluster's flags take
// their defaults from here.
func DefaultOptions() Options {
	return Options{
		Limits:       imageio.Limits{MaxPixels: imageio.DefaultMaxPixels},
		Threshold:    face.DefaultThreshold,
		PollInterval: 500 * time.Millisecond,
		Concurrency:  runtime.GOMAXPROCS(0),
	}
}

// Server implements recognizerv1.RecognizerServiceServer.
type Server struct {
	recognizerv1.UnimplementedRecognizerServiceServer

	opts    Options
	root    *imageroot.Root // nil without an image root: only image data is accepted
	log     *slog.Logger
	gallery *gallery.Gallery
	health  *health.Server
	sem     chan struct{}
	metrics *serverMetrics

	version atomic.Int64
	loaded  atomic.Bool

	// Examples of another descriptor version, which the gallery leaves out (touched only by
	// Run's goroutine): their count by person, and the people with none of the current one.
	staleByPerson map[int64]int
	stalePeople   map[int64]bool
}

// New checks the options; Run loads the gallery.
func New(o Options) (*Server, error) {
	if o.Engine == nil || o.Store == nil {
		return nil, errors.New("recognizer: Engine and Store are required")
	}
	def := DefaultOptions()
	if o.Threshold <= 0 {
		o.Threshold = def.Threshold
	}
	if o.PollInterval <= 0 {
		o.PollInterval = def.PollInterval
	}
	if o.Concurrency <= 0 {
		o.Concurrency = def.Concurrency
	}
	var root *imageroot.Root
	if o.ImageRoot != "" {
		var err error
		if root, err = imageroot.Open(o.ImageRoot, 0); err != nil {
			return nil, fmt.Errorf("recognizer: %w", err)
		}
	}
	m, err := newServerMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{
		opts: o, root: root, log: o.Logger.With("role", "recognizer"), gallery: gallery.New(), health: health.NewServer(),
		sem: make(chan struct{}, o.Concurrency), metrics: m,
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.health.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	return s, nil
}

// Register adds the recognizer and the health service to a gRPC server.
func (s *Server) Register(g *grpc.Server) {
	recognizerv1.RegisterRecognizerServiceServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
}

// Run loads the gallery, reports SERVING and keeps the gallery current until ctx is done; then
// it reports NOT_SERVING.
func (s *Server) Run(ctx context.Context) error {
	for {
		err := s.reload(ctx)
		if err == nil {
			break
		}
		s.log.Error("cannot load the gallery; retrying", "err", err.Error())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	s.loaded.Store(true)
	s.setServing(true)
	defer s.setServing(false)
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		v, err := s.opts.Store.GalleryVersion(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("cannot read the gallery version", "err", err.Error())
			}
			continue
		}
		if v != s.version.Load() {
			if err := s.update(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("cannot update the gallery", "err", err.Error())
			}
		}
	}
}

// Shutdown reports NOT_SERVING, so balancers and breakers stop sending work here.
func (s *Server) Shutdown() { s.setServing(false) }

func (s *Server) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(ServiceName, st)
}

// Ready reports whether the gallery has been loaded.
func (s *Server) Ready() error {
	if !s.loaded.Load() {
		return errors.New("recognizer: gallery not loaded yet")
	}
	return nil
}

// GalleryVersion is the version of the gallery in memory.
func (s *Server) GalleryVersion() int64 { return s.version.Load() }

// reload loads the whole gallery (at start, and when the change log does not reach back to the
// version in memory).
func (s *Server) reload(ctx context.Context) error {
	start := time.Now()
	st, err := LoadGallery(ctx, s.opts.Store, s.gallery)
	if err != nil {
		return err
	}
	s.staleByPerson, s.stalePeople = st.StaleByPerson, st.StalePeople
	s.setVersion(st.Version)
	s.log.Info("gallery loaded", "version", st.Version, "examples", st.Examples, "skipped", st.Skipped, "took", time.Since(start).String())
	s.logStale()
	return nil
}

// logStale says when examples of an older descriptor version are left out of the gallery.
func (s *Server) logStale() {
	n := 0
	for _, c := range s.staleByPerson {
		n += c
	}
	if n == 0 {
		return
	}
	var people []int64
	for p := range s.stalePeople {
		if len(people) == 10 {
			break
		}
		people = append(people, p)
	}
	s.log.Warn("examples of an older descriptor version are left out of the gallery: run facecluster reembed, or enrol their photos again",
		"stale_examples", n, "model", face.ModelVersion, "people_not_recognised", len(s.stalePeople), "some_person_ids", people)
}

// LoadStats describe a full gallery load.
type LoadStats struct {
	Version  int64 // the gallery version loaded
	Examples int   // examples now in the gallery
	Skipped  int   // examples left out: computed by another model, or damaged
	// StaleByPerson counts the examples left out for being of another descriptor version
	// (face.ModelVersion), by person; StalePeople are the people left with no example at all
	// in the gallery because of it (they cannot be recognised until re-embedded or re-enrolled).
	StaleByPerson map[int64]int
	StalePeople   map[int64]bool
}

// staleExamples counts the examples of another descriptor version than face.ModelVersion, by
// person; add reports whether model is the current one.
type staleExamples map[int64]int

func (c staleExamples) add(personID int64, model []byte) (current bool) {
	if len(model) > 0 && string(model) != face.ModelVersion {
		c[personID]++
		return false
	}
	return true
}

// stalePeople are those of c left without a descriptor in g: all their examples are stale.
func stalePeople(c staleExamples, g *gallery.Gallery) map[int64]bool {
	out := map[int64]bool{}
	for p := range c {
		if !g.HasPerson(p) {
			out[p] = true
		}
	}
	return out
}

// LoadGallery replaces the whole content of g with the store's gallery. The rows are streamed
// (StreamGallery) and decoded straight into the arrays the gallery searches (gallery.Loader),
// so a load holds the new gallery once, not also a list of every example; searches go on
// against the old content until the new one is swapped in. Examples computed by another model
// (not comparable) or damaged (a blob of the wrong size, a non-finite value) are left out.
func LoadGallery(ctx context.Context, st GalleryStore, g *gallery.Gallery) (LoadStats, error) {
	var stats LoadStats
	var l *gallery.Loader
	var d [gallery.Dim]float32
	var garbage garbageBound
	stale := staleExamples{}
	err := st.StreamGallery(ctx, func(version int64, count int) error {
		stats.Version, l = version, gallery.NewLoader(count)
		garbage.start()
		return nil
	}, func(r *store.GalleryRow) error {
		garbage.row()
		if !stale.add(r.PersonID, r.Model) || store.DecodeDescriptorInto(d[:], r.Descriptor) != nil || !finite(d[:]) {
			stats.Skipped++
			return nil
		}
		if err := l.Append(r.ID, r.PersonID, r.Person, &d); err != nil {
			return fmt.Errorf("recognizer: gallery version %d: %w", stats.Version, err)
		}
		return nil
	})
	if err != nil {
		return LoadStats{}, err
	}
	stats.Examples = l.Len()
	g.Load(l)
	stats.StaleByPerson, stats.StalePeople = stale, stalePeople(stale, g)
	return stats, nil
}

// loadGarbage is how much garbage a full load lets pile up before it collects it. The gallery
// is allocated whole before the first row, so the collector's next goal is twice its size, and
// the drivers allocate per row (modernc's SQLite copies every blob, ≈ 600 bytes a row): left to
// the pacer, a million-descriptor load would end with about as much garbage as gallery. The
// collections cost little: the gallery's arrays and index hold no pointers, so marking them is
// nearly free (BenchmarkGalleryLoad: peak RSS and CPU time in docs/benchmarks.md).
const loadGarbage = 64 << 20

// garbageBound collects the garbage of a load every loadGarbage bytes allocated.
type garbageBound struct {
	rows   int
	since  uint64
	sample [1]rtmetrics.Sample
}

func (b *garbageBound) start() {
	b.sample[0].Name = "/gc/heap/allocs:bytes"
	rtmetrics.Read(b.sample[:])
	b.since = b.sample[0].Value.Uint64()
}

func (b *garbageBound) row() {
	if b.rows++; b.rows%4096 != 0 {
		return
	}
	rtmetrics.Read(b.sample[:])
	if now := b.sample[0].Value.Uint64(); now-b.since >= loadGarbage {
		runtime.GC()
		rtmetrics.Read(b.sample[:])
		b.since = b.sample[0].Value.Uint64()
	}
}

// update applies the enrolment changes made since the version in memory: only the people they
// touched are read and replaced, so an enrolment costs the same with a million descriptors
// enrolled as with ten.
func (s *Server) update(ctx context.Context) error {
	start := time.Now()
	since := s.version.Load()
	d, err := s.opts.Store.GalleryChanges(ctx, since)
	if err != nil {
		return err
	}
	if d.Full {
		s.log.Info("gallery change log does not reach back to the version in memory; reloading everything", "version", since)
		return s.reload(ctx)
	}
	list, skipped := usable(d.Examples)
	if err := s.gallery.ReplacePeople(d.People, list); err != nil {
		return fmt.Errorf("recognizer: gallery version %d: %w", d.Version, err)
	}
	stale := staleExamples{}
	for _, e := range d.Examples {
		stale.add(e.PersonID, []byte(e.Model))
	}
	for _, p := range d.People {
		delete(s.staleByPerson, p)
		delete(s.stalePeople, p)
		if n := stale[p]; n > 0 {
			s.staleByPerson[p] = n
			if !s.gallery.HasPerson(p) {
				s.stalePeople[p] = true
			}
		}
	}
	s.setVersion(d.Version)
	s.log.Debug("gallery updated", "from", since, "version", d.Version, "people", len(d.People), "examples", len(list),
		"skipped", skipped, "took", time.Since(start).String())
	return nil
}

func (s *Server) setVersion(v int64) {
	s.version.Store(v)
	s.metrics.galleryVersion.Set(float64(v))
	s.metrics.galleryExamples.Set(float64(s.gallery.Len()))
	n := 0
	for _, c := range s.staleByPerson {
		n += c
	}
	s.metrics.staleExamples.Set(float64(n))
	s.metrics.stalePeople.Set(float64(len(s.stalePeople)))
}

// usable converts the store's examples, leaving out those computed by another model (not
// comparable) or damaged.
func usable(examples []store.Example) (list []gallery.Example, skipped int) {
	list = make([]gallery.Example, 0, len(examples))
	for _, e := range examples {
		if len(e.Descriptor) != gallery.Dim || (e.Model != "" && e.Model != face.ModelVersion) || !finite(e.Descriptor) {
			skipped++
			continue
		}
		var d [gallery.Dim]float32
		copy(d[:], e.Descriptor)
		list = append(list, gallery.Example{ID: e.ID, PersonID: e.PersonID, Person: e.Person, Descriptor: d})
	}
	return list, skipped
}

// Recognize implements the RPC.
func (s *Server) Recognize(ctx context.Context, req *recognizerv1.RecognizeRequest) (*recognizerv1.RecognizeResponse, error) {
	if !s.loaded.Load() {
		return nil, status.Error(codes.Unavailable, "recognizer is starting: gallery not loaded yet")
	}
	hash := sha256.New()
	img, err := s.decodeTee(req.GetImage(), hash)
	if err != nil {
		return nil, err
	}
	opts, err := engineOptions(req.GetOptions())
	if err != nil {
		return nil, err
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	faces, err := s.opts.Engine.Analyze(ctx, img, opts)
	s.release()
	if err != nil {
		return nil, engineError(ctx, err)
	}
	threshold := req.GetThreshold()
	if threshold <= 0 {
		threshold = s.opts.Threshold
	}
	descs := make([][gallery.Dim]float32, len(faces))
	for i, f := range faces {
		descs[i] = f.Descriptor
	}
	version := s.version.Load()
	matches := s.gallery.MatchFaces(descs, threshold)
	b := img.Bounds()
	resp := &recognizerv1.RecognizeResponse{
		Width: int32(b.Dx()), Height: int32(b.Dy()), GalleryVersion: version, ModelVersion: face.ModelVersion,
		ContentHash: "sha256:" + hex.EncodeToString(hash.Sum(nil)),
	}
	for i, f := range faces {
		pf := protoFace(f)
		if i < len(matches) {
			m := matches[i]
			pf.Match = &recognizerv1.Match{
				Known: m.Known, Distance: m.Distance, BestExampleId: m.BestExampleID, BestDistance: m.BestDistance,
			}
			if m.Known {
				pf.Match.PersonId, pf.Match.Person = m.PersonID, m.Person
			}
		}
		resp.Faces = append(resp.Faces, pf)
	}
	return resp, nil
}

// Describe implements the RPC.
func (s *Server) Describe(ctx context.Context, req *recognizerv1.DescribeRequest) (*recognizerv1.DescribeResponse, error) {
	img, err := s.decode(req.GetImage())
	if err != nil {
		return nil, err
	}
	opts, err := engineOptions(req.GetOptions())
	if err != nil {
		return nil, err
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	faces, whole, err := DescribeImage(ctx, s.opts.Engine, img, opts, req.GetWholeImageFallback())
	if err != nil {
		return nil, engineError(ctx, err)
	}
	b := img.Bounds()
	resp := &recognizerv1.DescribeResponse{Width: int32(b.Dx()), Height: int32(b.Dy()), WholeImageUsed: whole, ModelVersion: face.ModelVersion}
	for _, f := range faces {
		resp.Faces = append(resp.Faces, protoFace(f))
	}
	return resp, nil
}

// Verify implements the RPC. The recognizer owns the comparison so that every client answers
// alike: each image's face is the one face.Primary chooses (as for `facecluster compare`), the
// distance is the engine's, and the threshold the request's or this recognizer's.
func (s *Server) Verify(ctx context.Context, req *recognizerv1.VerifyRequest) (*recognizerv1.VerifyResponse, error) {
	opts, err := engineOptions(req.GetOptions())
	if err != nil {
		return nil, err
	}
	threshold := req.GetThreshold()
	if !(threshold > 0) {
		threshold = s.opts.Threshold
	}
	resp := &recognizerv1.VerifyResponse{Threshold: threshold, ModelVersion: face.ModelVersion}
	var primary [2]face.Face
	for i, side := range []struct {
		name string
		src  *recognizerv1.Image
		out  **recognizerv1.VerifiedImage
	}{{"a", req.GetA(), &resp.A}, {"b", req.GetB(), &resp.B}} {
		vi, f, err := s.verifyImage(ctx, side.src, opts, req.GetWholeImageFallback())
		if err != nil {
			st := status.Convert(err)
			return nil, status.Errorf(st.Code(), "image %s: %s", side.name, st.Message())
		}
		*side.out, primary[i] = vi, f
	}
	if resp.A.Faces > 0 && resp.B.Faces > 0 {
		d := face.Distance(primary[0].Descriptor, primary[1].Descriptor)
		resp.Distance, resp.Same = &d, d < threshold
	}
	return resp, nil
}

// verifyImage decodes and describes one image of a Verify request and returns its primary face.
func (s *Server) verifyImage(ctx context.Context, src *recognizerv1.Image, opts face.Options, wholeFallback bool) (*recognizerv1.VerifiedImage, face.Face, error) {
	img, err := s.decode(src)
	if err != nil {
		return nil, face.Face{}, err
	}
	if err := s.acquire(ctx); err != nil {
		return nil, face.Face{}, err
	}
	faces, whole, err := DescribeImage(ctx, s.opts.Engine, img, opts, wholeFallback)
	s.release()
	if err != nil {
		return nil, face.Face{}, engineError(ctx, err)
	}
	b := img.Bounds()
	vi := &recognizerv1.VerifiedImage{Faces: int32(len(faces)), WholeImageUsed: whole, Width: int32(b.Dx()), Height: int32(b.Dy())}
	f, ok := face.Primary(faces)
	if ok {
		vi.Face = protoFace(f)
	}
	return vi, f, nil
}

// DescribeImage finds the faces of img with their descriptors; with wholeFallback, an image in
// which no face is found is described as one face (a tight crop), and whole reports it.
func DescribeImage(ctx context.Context, eng *face.Engine, img image.Image, opts face.Options, wholeFallback bool) (faces []face.Face, whole bool, err error) {
	faces, err = eng.Analyze(ctx, img, opts)
	if err != nil {
		return nil, false, err
	}
	if len(faces) > 0 || !wholeFallback || opts.WholeImage {
		return faces, opts.WholeImage, nil
	}
	opts.WholeImage = true
	faces, err = eng.Analyze(ctx, img, opts)
	if err != nil {
		return nil, false, err
	}
	return faces, true, nil
}

func (s *Server) acquire(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

func (s *Server) release() { <-s.sem }

// decode opens the image the request names. Errors are gRPC statuses that say what is wrong.
func (s *Server) decode(src *recognizerv1.Image) (image.Image, error) { return s.decodeTee(src, nil) }

// decodeTee is decode that also writes the image's bytes to w (nil: none) as it reads them.
func (s *Server) decodeTee(src *recognizerv1.Image, w io.Writer) (image.Image, error) {
	var (
		img image.Image
		err error
	)
	switch src.GetSource().(type) {
	case *recognizerv1.Image_Data:
		if len(src.GetData()) == 0 {
			return nil, status.Error(codes.InvalidArgument, "image data is empty")
		}
		if w != nil {
			w.Write(src.GetData())
		}
		img, _, err = imageio.Decode(bytes.NewReader(src.GetData()), s.opts.Limits)
	case *recognizerv1.Image_Path:
		path, perr := s.resolve(src.GetPath())
		if perr != nil {
			return nil, perr
		}
		img, _, err = imageio.DecodeFileTee(path, s.opts.Limits, w)
	default:
		return nil, status.Error(codes.InvalidArgument, "no image given: set path or data")
	}
	switch {
	case err == nil:
		return img, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, status.Errorf(codes.NotFound, "%v", err)
	case errors.Is(err, fs.ErrPermission):
		return nil, status.Errorf(codes.PermissionDenied, "%v", err)
	case errors.Is(err, imageio.ErrTooLarge), errors.Is(err, imageio.ErrUnsupported), errors.Is(err, imageio.ErrCorrupt):
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	default:
		return nil, status.Errorf(codes.Internal, "read image: %v", err)
	}
}

// resolve confines a path reference to the image root, following symlinks before checking, and
// returns the path to open.
func (s *Server) resolve(p string) (string, error) {
	if s.root == nil {
		return "", status.Error(codes.FailedPrecondition, "this recognizer has no image root: send image data instead of a path")
	}
	if p == "" {
		return "", status.Error(codes.InvalidArgument, "image path is empty")
	}
	_, real, err := s.root.Resolve(p)
	switch {
	case err == nil:
		return real, nil
	case errors.Is(err, imageroot.ErrOutside):
		return "", status.Errorf(codes.PermissionDenied, "image %v", err)
	case errors.Is(err, fs.ErrNotExist):
		return "", status.Errorf(codes.NotFound, "image %v", err)
	default:
		return "", status.Errorf(codes.InvalidArgument, "image %v", err)
	}
}

func engineOptions(o *recognizerv1.DetectOptions) (face.Options, error) {
	var opts face.Options
	if o == nil {
		return opts, nil
	}
	switch o.GetDetector() {
	case recognizerv1.Detector_DETECTOR_UNSPECIFIED, recognizerv1.Detector_DETECTOR_SSD:
		opts.Detector = face.DetectorSSD
	case recognizerv1.Detector_DETECTOR_TINY:
		opts.Detector = face.DetectorTiny
	default:
		return opts, status.Errorf(codes.InvalidArgument, "unknown detector %v", o.GetDetector())
	}
	opts.MinConfidence = o.GetMinConfidence()
	opts.MaxResults = int(o.GetMaxResults())
	opts.InputSize = int(o.GetInputSize())
	opts.MinFaceSize = int(o.GetMinFaceSize())
	opts.WholeImage = o.GetWholeImage()
	switch {
	case opts.MinConfidence < 0 || opts.MinConfidence >= 1:
		return opts, status.Errorf(codes.InvalidArgument, "min_confidence %v outside [0, 1)", opts.MinConfidence)
	case opts.MaxResults < 0:
		return opts, status.Errorf(codes.InvalidArgument, "max_results %d is negative", opts.MaxResults)
	case opts.InputSize != 0 && (opts.InputSize%32 != 0 || opts.InputSize < 128 || opts.InputSize > 608):
		return opts, status.Errorf(codes.InvalidArgument, "input_size %d is not a multiple of 32 in 128..608", opts.InputSize)
	case opts.MinFaceSize < 0:
		return opts, status.Errorf(codes.InvalidArgument, "min_face_size %d is negative", opts.MinFaceSize)
	}
	return opts, nil
}

// engineError maps an engine error to a status: cancellation stays cancellation (options were
// checked before), anything else is internal.
func engineError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Errorf(codes.Internal, "face engine: %v", err)
}

func protoFace(f face.Face) *recognizerv1.Face {
	pf := &recognizerv1.Face{
		Box:       &recognizerv1.Box{X: f.Box.X, Y: f.Box.Y, Width: f.Box.W, Height: f.Box.H},
		Score:     f.Score,
		Landmarks: make([]*recognizerv1.Point, len(f.Landmarks)),
		Embedding: append([]float32(nil), f.Descriptor[:]...),
	}
	for i, p := range f.Landmarks {
		pf.Landmarks[i] = &recognizerv1.Point{X: p.X, Y: p.Y}
	}
	return pf
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}
