package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/image/draw"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/cmd/facecluster/internal/server"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/testutil"
)

const serveGroups = config.GroupDB | config.GroupQueue | config.GroupServe | config.GroupEngine | config.GroupKnown | config.GroupRecognize

// serve runs `facecluster serve` in this process with the given flags (plus free ports and a
// temporary data directory) and returns its base URL. Stopping happens at cleanup, and must be
// clean.
func serve(t *testing.T, args ...string) (string, *server.Server) {
	t.Helper()
	return serveWith(t, true, args...)
}

// serveWith is serve that can skip waiting for /readyz (for a process whose dependencies are
// down on purpose).
func serveWith(t *testing.T, waitReady bool, args ...string) (string, *server.Server) {
	t.Helper()
	url, srv, _ := startServe(t, waitReady, args...)
	return url, srv
}

// startServe is serveWith that also returns a function stopping the server before the test
// ends (as a SIGTERM would); cleanup then has nothing left to do.
func startServe(t *testing.T, waitReady bool, args ...string) (string, *server.Server, func()) {
	t.Helper()
	return startServeOver(t, waitReady, append(testFlags(t), privatePortFlags...), args...)
}

// testFlags are the flags every test's serve gets unless it gives them: no .env, a temporary
// data directory, a free HTTP port, the test models, quick polls.
func testFlags(t *testing.T) []string {
	return []string{
		"--env-file", "", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--models-dir", testutil.ModelsDir(t), "--gallery-poll", "100ms", "--processor-concurrency", "2",
	}
}

// privatePortFlags put the queue daemons and gRPC on free ports, so tests run beside each other
// and beside other programs.
var privatePortFlags = []string{
	"--grpc-addr", "127.0.0.1:0", "--nsqd-tcp-addr", "127.0.0.1:0", "--nsqd-http-addr", "127.0.0.1:0",
	"--nsqlookupd-tcp-addrs", "127.0.0.1:0", "--nsqlookupd-http-addrs", "127.0.0.1:0",
}

// startServeOver is startServe with base (flag, value pairs) instead of the test defaults.
func startServeOver(t *testing.T, waitReady bool, base []string, args ...string) (string, *server.Server, func()) {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg := config.Register(fs, serveGroups)
	// args override the defaults above (list flags would append, not replace, if given twice).
	given := map[string]bool{}
	for _, a := range args {
		if strings.HasPrefix(a, "--") {
			given[a] = true
		}
	}
	var defaults []string
	for i := 0; i < len(base); i += 2 {
		if !given[base[i]] {
			defaults = append(defaults, base[i], base[i+1])
		}
	}
	if err := fs.Parse(append(defaults, args...)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Load(func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve ended with %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not shut down within 30s")
			}
		})
	}
	t.Cleanup(stop)
	url := "http://" + srv.HTTPAddr()
	deadline := time.Now().Add(30 * time.Second)
	for waitReady {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz still %d: %s", resp.StatusCode, body)
			}
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return url, srv, stop
}

func copyDemo(t *testing.T, dir, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// knownFolder makes a known-people folder with a crop of the rightmost face of sample1.jpg as
// carol.jpg (in a temporary directory: the photos are never copied into the repository).
func knownFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	img, _, err := imageio.DecodeFile(filepath.Join(testutil.DemoDir(t), "sample1.jpg"), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := face.Load(face.LoadOptions{ModelsDir: testutil.ModelsDir(t), Nets: face.NetSSD})
	if err != nil {
		t.Fatal(err)
	}
	dets, err := eng.Detect(context.Background(), img, face.Options{})
	if err != nil || len(dets) == 0 {
		t.Fatalf("detect: %d faces, %v", len(dets), err)
	}
	b := dets[0].Box
	for _, d := range dets {
		if d.Box.X > b.X {
			b = d.Box
		}
	}
	r := image.Rect(int(b.X-0.2*b.W), int(b.Y-0.2*b.H), int(b.X+1.2*b.W), int(b.Y+1.2*b.H)).Intersect(img.Bounds())
	crop := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Copy(crop, image.Point{}, img, r, draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, crop, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "carol.jpg"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s answered %d with non-JSON %q", url, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return out
}

func metricsText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	url, _ := serve(t, "--image-root", t.TempDir(), "--roles", "nsqlookupd,nsqd,reconciler")
	h := getJSON(t, url+"/healthz")
	if h["status"] != "ok" {
		t.Fatalf("/healthz = %v", h)
	}
	r := getJSON(t, url+"/readyz")
	checks, _ := r["checks"].(map[string]any)
	for _, c := range []string{"database", "nsqd", "nsqd-publish"} {
		if checks[c] != "ok" {
			t.Errorf("/readyz check %s = %v, want ok (all: %v)", c, checks[c], checks)
		}
	}
	if _, ok := checks["recognizer"]; ok {
		t.Error("/readyz checks the recognizer, which this process does not run")
	}
}

func TestBadConfigurationStopsAtStartWithAClearError(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg := config.Register(fs, serveGroups)
	fs.Parse([]string{"--env-file", "", "--data-dir", t.TempDir(), "--image-root", t.TempDir(), "--roles", "recognizer",
		"--models-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"})
	if err := cfg.Load(func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	_, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "make models") {
		t.Fatalf("serve with an empty models directory: %v, want an error naming `make models`", err)
	}
}
