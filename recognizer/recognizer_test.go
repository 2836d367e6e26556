package recognizer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

var (
	engineOnce sync.Once
	engine     *face.Engine
	engineErr  error
)

func testEngine(t *testing.T) *face.Engine {
	t.Helper()
	dir := testutil.ModelsDir(t)
	engineOnce.Do(func() { engine, engineErr = face.Load(face.LoadOptions{ModelsDir: dir}) })
	if engineErr != nil {
		t.Fatalf("load face engine: %v", engineErr)
	}
	return engine
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	return openStoreOn(t, store.DriverSQLite)
}

// openStoreOn opens a fresh, migrated store on driver: a SQLite file or a new MySQL database.
func openStoreOn(t testing.TB, driver string) *store.Store {
	t.Helper()
	opts := store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(t.TempDir(), "fc.db")}
	if driver == store.DriverMySQL {
		opts = store.Options{Driver: store.DriverMySQL, DSN: testutil.MySQLDSN(t)}
	}
	st, err := store.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// replica is one running recognizer with its own gRPC server and a call counter.
type replica struct {
	srv   *recognizer.Server
	addr  string
	calls atomic.Int64
}

func startReplica(t *testing.T, st *store.Store, root string, opts ...grpc.ServerOption) *replica {
	t.Helper()
	return startReplicaWith(t, recognizer.Options{Engine: testEngine(t), Store: st, ImageRoot: root, PollInterval: 200 * time.Millisecond}, opts...)
}

func startReplicaWith(t *testing.T, o recognizer.Options, opts ...grpc.ServerOption) *replica {
	t.Helper()
	srv, err := recognizer.New(o)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{srv: srv, addr: lis.Addr().String()}
	g := grpc.NewServer(append(opts, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/Recognize") {
			r.calls.Add(1)
		}
		return h(ctx, req)
	}))...)
	srv.Register(g)
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	go g.Serve(lis)
	t.Cleanup(func() { cancel(); g.Stop() })
	return r
}

func dial(t *testing.T, addr string) *recognizer.Client {
	t.Helper()
	c, err := recognizer.Dial(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s took longer than %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func demoBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cropRightmostFace writes a tight crop of the rightmost face of sample1.jpg to dir/name.jpg: a
// known-people folder made in a temporary directory.
func cropRightmostFace(t *testing.T, dir, name string) face.Box {
	t.Helper()
	img, _, err := imageio.Decode(bytes.NewReader(demoBytes(t, "sample1.jpg")), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	faces, err := testEngine(t).Analyze(context.Background(), img, face.Options{})
	if err != nil || len(faces) == 0 {
		t.Fatalf("analyze: %d faces, %v", len(faces), err)
	}
	b := faces[0].Box
	for _, f := range faces {
		if f.Box.X > b.X {
			b = f.Box
		}
	}
	r := image.Rect(int(b.X-0.2*b.W), int(b.Y-0.2*b.H), int(b.X+1.2*b.W), int(b.Y+1.2*b.H)).Intersect(img.Bounds())
	crop := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(crop, crop.Bounds(), img, r.Min, draw.Src)
	f, err := os.Create(filepath.Join(dir, name+".jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, crop, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b
}

func known(resp *recognizerv1.RecognizeResponse) []string {
	var names []string
	for _, f := range resp.GetFaces() {
		if f.GetMatch().GetKnown() {
			names = append(names, f.GetMatch().GetPerson())
		}
	}
	return names
}

func TestEnrolmentReachesEveryReplicaWithinTwoSeconds(t *testing.T) {
	for _, driver := range []string{store.DriverSQLite, store.DriverMySQL} {
		t.Run(driver, func(t *testing.T) { testEnrolmentReachesEveryReplica(t, driver) })
	}
}

func testEnrolmentReachesEveryReplica(t *testing.T, driver string) {
	st := openStoreOn(t, driver)
	a, b := startReplica(t, st, t.TempDir()), startReplica(t, st, t.TempDir())
	ca, cb := dial(t, a.addr), dial(t, b.addr)
	ctx := context.Background()
	waitFor(t, "both replicas to serve", 10*time.Second, func() bool { return ca.Probe(ctx) == nil && cb.Probe(ctx) == nil })

	dir := t.TempDir()
	carolBox := cropRightmostFace(t, dir, "carol")
	rep, err := enroll.Folder(ctx, enroll.Options{Engine: testEngine(t), Store: st, Dir: dir})
	if err != nil || rep.Enrolled != 1 {
		t.Fatalf("enrol: %+v, %v", rep, err)
	}
	version, err := st.GalleryVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "the enrolment to reach both replicas", 2*time.Second, func() bool {
		return a.srv.GalleryVersion() == version && b.srv.GalleryVersion() == version
	})
	t.Logf("enrolment reached both replicas in %s", took)

	req := &recognizerv1.RecognizeRequest{Image: &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: demoBytes(t, "sample1.jpg")}}}
	for name, c := range map[string]*recognizer.Client{"a": ca, "b": cb} {
		resp, err := c.Recognize(ctx, req)
		if err != nil {
			t.Fatalf("replica %s: %v", name, err)
		}
		if got := known(resp); len(got) != 1 || got[0] != "carol" {
			t.Fatalf("replica %s found %v, want [carol]", name, got)
		}
		for _, f := range resp.GetFaces() {
			if f.GetMatch().GetKnown() && (f.GetBox().GetX()-carolBox.X > 4 || carolBox.X-f.GetBox().GetX() > 4) {
				t.Errorf("replica %s: carol at x=%.0f, enrolled from the face at x=%.0f", name, f.GetBox().GetX(), carolBox.X)
			}
			if len(f.GetEmbedding()) != 128 || len(f.GetLandmarks()) != 68 {
				t.Errorf("face with %d descriptor values and %d landmarks", len(f.GetEmbedding()), len(f.GetLandmarks()))
			}
		}
		if resp.GetGalleryVersion() != version || resp.GetModelVersion() != face.ModelVersion {
			t.Errorf("replica %s answered with gallery %d model %q", name, resp.GetGalleryVersion(), resp.GetModelVersion())
		}
	}

	// Deleting the person reaches both replicas as fast.
	p, err := st.PersonByName(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeletePerson(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	version, _ = st.GalleryVersion(ctx)
	waitFor(t, "the deletion to reach both replicas", 2*time.Second, func() bool {
		return a.srv.GalleryVersion() == version && b.srv.GalleryVersion() == version
	})
	resp, err := cb.Recognize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := known(resp); len(got) != 0 {
		t.Fatalf("after deleting carol replica b still found %v", got)
	}
}

func TestClientBalancesEachRequestAcrossReplicas(t *testing.T) {
	st := openStore(t)
	a, b := startReplica(t, st, t.TempDir()), startReplica(t, st, t.TempDir())
	// Two addresses behind one name, as DNS returns for a headless service.
	r := manual.NewBuilderWithScheme("test")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: a.addr}, {Addr: b.addr}}})
	c, err := recognizer.Dial("test:///recognizers", nil, grpc.WithResolvers(r))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	waitFor(t, "replicas to serve", 10*time.Second, func() bool { return a.srv.Ready() == nil && b.srv.Ready() == nil })
	req := &recognizerv1.RecognizeRequest{Image: &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: blankPNG(t, 64, 64)}}}
	for i := 0; i < 10; i++ {
		if _, err := c.Recognize(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if a.calls.Load() < 3 || b.calls.Load() < 3 {
		t.Fatalf("calls per replica %d and %d: one connection took the traffic instead of per-request balancing", a.calls.Load(), b.calls.Load())
	}
}

func blankPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{90, 140, 200, 255}}, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngBomb is a valid PNG header claiming 100000×100000 pixels.
func pngBomb() []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2
	binary.Write(&buf, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	buf.Write(chunk)
	binary.Write(&buf, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return buf.Bytes()
}

func TestBadRequestsGetClearErrors(t *testing.T) {
	st := openStore(t)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "notes.txt"), []byte("not an image"), 0o644)
	os.Mkdir(filepath.Join(root, "folder"), 0o755)
	outside := filepath.Join(t.TempDir(), "secret.png")
	os.WriteFile(outside, blankPNG(t, 8, 8), 0o644)
	os.Symlink(outside, filepath.Join(root, "escape.png"))
	rep := startReplica(t, st, root)
	c := dial(t, rep.addr)
	ctx := context.Background()
	waitFor(t, "the replica to serve", 10*time.Second, func() bool { return c.Probe(ctx) == nil })

	path := func(p string) *recognizerv1.Image {
		return &recognizerv1.Image{Source: &recognizerv1.Image_Path{Path: p}}
	}
	data := func(b []byte) *recognizerv1.Image {
		return &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: b}}
	}
	tests := []struct {
		name string
		req  *recognizerv1.RecognizeRequest
		code codes.Code
		msg  string
	}{
		{"no image", &recognizerv1.RecognizeRequest{}, codes.InvalidArgument, "no image given"},
		{"empty data", &recognizerv1.RecognizeRequest{Image: data(nil)}, codes.InvalidArgument, "empty"},
		{"not an image", &recognizerv1.RecognizeRequest{Image: data([]byte("hello"))}, codes.InvalidArgument, "unsupported"},
		{"decompression bomb", &recognizerv1.RecognizeRequest{Image: data(pngBomb())}, codes.InvalidArgument, "too large"},
		{"text file", &recognizerv1.RecognizeRequest{Image: path("notes.txt")}, codes.InvalidArgument, ""},
		{"missing file", &recognizerv1.RecognizeRequest{Image: path("nobody.jpg")}, codes.NotFound, "does not exist"},
		{"directory", &recognizerv1.RecognizeRequest{Image: path("folder")}, codes.InvalidArgument, "not a regular file"},
		{"dot-dot escape", &recognizerv1.RecognizeRequest{Image: path("../../../../etc/hostname")}, codes.PermissionDenied, "outside the image root"},
		{"absolute path outside", &recognizerv1.RecognizeRequest{Image: path(outside)}, codes.PermissionDenied, "outside the image root"},
		{"symlink escape", &recognizerv1.RecognizeRequest{Image: path("escape.png")}, codes.PermissionDenied, "outside the image root"},
		{"bad input size", &recognizerv1.RecognizeRequest{Image: data(blankPNG(t, 8, 8)), Options: &recognizerv1.DetectOptions{Detector: recognizerv1.Detector_DETECTOR_TINY, InputSize: 100}}, codes.InvalidArgument, "input_size"},
		{"bad confidence", &recognizerv1.RecognizeRequest{Image: data(blankPNG(t, 8, 8)), Options: &recognizerv1.DetectOptions{MinConfidence: 1.5}}, codes.InvalidArgument, "min_confidence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Recognize(ctx, tt.req)
			s := status.Convert(err)
			if s.Code() != tt.code || !strings.Contains(s.Message(), tt.msg) {
				t.Fatalf("error %v, want %s mentioning %q", err, tt.code, tt.msg)
			}
		})
	}
}

func TestDescribeFallsBackToTheWholeImage(t *testing.T) {
	st := openStore(t)
	rep := startReplica(t, st, "")
	c := dial(t, rep.addr)
	ctx := context.Background()
	img := &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: blankPNG(t, 150, 150)}}
	resp, err := c.Describe(ctx, &recognizerv1.DescribeRequest{Image: img})
	if err != nil || len(resp.GetFaces()) != 0 || resp.GetWholeImageUsed() {
		t.Fatalf("describe without fallback = %d faces, whole %v, %v; want none", len(resp.GetFaces()), resp.GetWholeImageUsed(), err)
	}
	resp, err = c.Describe(ctx, &recognizerv1.DescribeRequest{Image: img, WholeImageFallback: true})
	if err != nil || len(resp.GetFaces()) != 1 || !resp.GetWholeImageUsed() || len(resp.GetFaces()[0].GetEmbedding()) != 128 {
		t.Fatalf("describe with fallback = %+v, %v; want one whole-image face", resp, err)
	}
	// A path needs an image root, which this replica does not have.
	_, err = c.Describe(ctx, &recognizerv1.DescribeRequest{Image: &recognizerv1.Image{Source: &recognizerv1.Image_Path{Path: "x.jpg"}}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("path without image root: %v, want FailedPrecondition", err)
	}
}

func TestHealthFollowsTheLifecycle(t *testing.T) {
	st := openStore(t)
	srv, err := recognizer.New(recognizer.Options{Engine: testEngine(t), Store: st})
	if err != nil {
		t.Fatal(err)
	}
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	g := grpc.NewServer()
	srv.Register(g)
	go g.Serve(lis)
	defer g.Stop()
	c := dial(t, lis.Addr().String())
	ctx := context.Background()

	if err := c.Probe(ctx); err == nil || !strings.Contains(err.Error(), healthpb.HealthCheckResponse_NOT_SERVING.String()) {
		t.Fatalf("probe before the gallery is loaded: %v, want NOT_SERVING", err)
	}
	_, err = c.Recognize(ctx, &recognizerv1.RecognizeRequest{Image: &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: blankPNG(t, 8, 8)}}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("recognize before the gallery is loaded: %v, want Unavailable", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Run(runCtx); close(done) }()
	waitFor(t, "SERVING", 5*time.Second, func() bool { return c.Probe(ctx) == nil })
	cancel()
	<-done
	if err := c.Probe(ctx); err == nil {
		t.Fatal("still SERVING after the recognizer stopped")
	}
}

// TestVerifyComparesThePrimaryFacesWithTheRecognizersThreshold: Verify compares the face the
// engine's rule chooses in each image (face.Primary, the largest), with the engine's distance,
// and the recognizer's own threshold unless the request sets one; an image without a face is
// reported, not compared.
func TestVerifyComparesThePrimaryFacesWithTheRecognizersThreshold(t *testing.T) {
	const own = 0.01 // this recognizer's threshold: stricter than any real pair
	rep := startReplicaWith(t, recognizer.Options{Engine: testEngine(t), Store: openStore(t), Threshold: own})
	c := dial(t, rep.addr)
	ctx := context.Background()
	dir := t.TempDir()
	cropRightmostFace(t, dir, "crop")
	crop, err := os.ReadFile(filepath.Join(dir, "crop.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	photo := demoBytes(t, "sample1.jpg")

	// What the engine says directly, for the faces its rule chooses.
	primary := func(b []byte) (face.Face, int) {
		img, _, err := imageio.Decode(bytes.NewReader(b), imageio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		faces, err := testEngine(t).Analyze(ctx, img, face.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f, ok := face.Primary(faces)
		if !ok {
			t.Fatal("no face")
		}
		return f, len(faces)
	}
	fa, _ := primary(crop)
	fb, nb := primary(photo)
	want := face.Distance(fa.Descriptor, fb.Descriptor)

	data := func(b []byte) *recognizerv1.Image {
		return &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: b}}
	}
	for _, tc := range []struct {
		name      string
		threshold float32
		wantUsed  float32
	}{
		{"the recognizer's threshold", 0, own},
		{"the request's threshold", face.DefaultThreshold, face.DefaultThreshold},
	} {
		resp, err := c.Verify(ctx, &recognizerv1.VerifyRequest{A: data(crop), B: data(photo), Threshold: tc.threshold})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if resp.Distance == nil || resp.GetDistance() != want || resp.GetThreshold() != tc.wantUsed || resp.GetSame() != (want < tc.wantUsed) {
			t.Errorf("%s: distance %v, threshold %v, same %v; want %v, %v, %v", tc.name, resp.Distance, resp.GetThreshold(), resp.GetSame(), want, tc.wantUsed, want < tc.wantUsed)
		}
		if b := resp.GetB(); b.GetFaces() != int32(nb) || b.GetFace().GetBox().GetWidth() != fb.Box.W || b.GetFace().GetBox().GetX() != fb.Box.X {
			t.Errorf("%s: image b: %d faces, compared %v; want %d, the largest at %+v", tc.name, b.GetFaces(), b.GetFace().GetBox(), nb, fb.Box)
		}
	}

	resp, err := c.Verify(ctx, &recognizerv1.VerifyRequest{A: data(crop), B: data(blankPNG(t, 150, 150))})
	if err != nil || resp.GetB().GetFaces() != 0 || resp.Distance != nil || resp.GetSame() {
		t.Fatalf("verify against a blank picture: %v, %v; want no face in b and nothing compared", resp, err)
	}
	resp, err = c.Verify(ctx, &recognizerv1.VerifyRequest{A: data(crop), B: data(blankPNG(t, 150, 150)), WholeImageFallback: true})
	if err != nil || resp.GetB().GetFaces() != 1 || !resp.GetB().GetWholeImageUsed() || resp.Distance == nil {
		t.Fatalf("verify against a blank picture taken whole: %v, %v; want it compared as one face", resp, err)
	}
	_, err = c.Verify(ctx, &recognizerv1.VerifyRequest{A: data(crop), B: data([]byte("not an image"))})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "image b:") {
		t.Fatalf("verify against bytes that are no image: %v, want InvalidArgument naming image b", err)
	}
}
