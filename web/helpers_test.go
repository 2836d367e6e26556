package web

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/store"
)

// openStore opens a fresh, migrated SQLite store in a temporary directory.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(t.TempDir(), "fc.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// testUI is a running UI over a real SQLite store with a browser-like client (cookies, no
// automatic redirects so tests see where each form sends the person).
type testUI struct {
	t      *testing.T
	st     *store.Store
	srv    *Server
	http   *httptest.Server
	client *http.Client
	dir    string // pictures live here
}

func newTestUI(t *testing.T, opts Options, deps Deps) *testUI {
	t.Helper()
	return newTestUIOnMux(t, http.NewServeMux(), opts, deps)
}

// newTestUIOnMux registers the UI on mux (which may already carry the receiver) and serves it.
func newTestUIOnMux(t *testing.T, mux *http.ServeMux, opts Options, deps Deps) *testUI {
	t.Helper()
	if deps.Store == nil {
		deps.Store = openStore(t)
	}
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	srv, err := New(opts, deps)
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	jar, _ := cookiejar.New(nil)
	return &testUI{t: t, st: deps.Store, srv: srv, http: hs, dir: t.TempDir(),
		client: &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	code   int
	body   string
	header http.Header
}

func (u *testUI) get(path string) response {
	u.t.Helper()
	res, err := u.client.Get(u.http.URL + path)
	if err != nil {
		u.t.Fatal(err)
	}
	return read(u.t, res)
}

func read(t testing.TB, res *http.Response) response {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: res.StatusCode, body: string(b), header: res.Header}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// token returns the CSRF token a page gives this client.
func (u *testUI) token() string {
	u.t.Helper()
	m := csrfMeta.FindStringSubmatch(u.get("/people").body)
	if m == nil {
		u.t.Fatal("no CSRF token on the people page")
	}
	return m[1]
}

// post sends a form as a browser does (same-origin, with the page's token unless given one).
func (u *testUI) post(path string, form url.Values) response {
	u.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has(csrfField) {
		form.Set(csrfField, u.token())
	}
	req, _ := http.NewRequest(http.MethodPost, u.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := u.client.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	return read(u.t, res)
}

// follow posts and then loads the page the redirect points at (where the flash message shows).
func (u *testUI) follow(path string, form url.Values) response {
	u.t.Helper()
	r := u.post(path, form)
	if r.code != http.StatusSeeOther {
		u.t.Fatalf("POST %s: status %d, want 303; body:\n%s", path, r.code, r.body)
	}
	return u.get(r.header.Get("Location"))
}

// picture writes a w×h JPEG into the test's picture folder and returns its path.
func (u *testUI) picture(name string, w, h int) string {
	u.t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 5), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		u.t.Fatal(err)
	}
	p := filepath.Join(u.dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		u.t.Fatal(err)
	}
	return p
}

// seedFace is a face to record in seedImage.
type seedFace struct {
	person   int64 // 0: unknown
	distance float64
	box      store.Box
}

// seedImage submits a picture and, when faces is non-nil, records its processing outcome.
func (u *testUI) seedImage(name string, faces []seedFace) int64 {
	u.t.Helper()
	ctx := context.Background()
	p := u.picture(name, 200, 150)
	sub, err := u.st.SubmitImages(ctx, []store.NewImage{{Source: p, Kind: store.SourcePath, Camera: "lobby"}})
	if err != nil {
		u.t.Fatal(err)
	}
	id := sub[0].ID
	if faces == nil {
		return id
	}
	if ok, err := u.st.ClaimImage(ctx, id, "test", time.Minute); err != nil || !ok {
		u.t.Fatalf("claim image %d: %v %v", id, ok, err)
	}
	out := store.Outcome{Width: 200, Height: 150}
	for i, f := range faces {
		d := make([]float32, store.DescriptorLen)
		d[i%store.DescriptorLen] = 1
		out.Faces = append(out.Faces, store.Face{Box: f.box, Score: 0.9, Descriptor: d, PersonID: f.person, Distance: f.distance})
	}
	if _, err := u.st.RecordOutcome(ctx, id, "test", out); err != nil {
		u.t.Fatal(err)
	}
	return id
}

func (u *testUI) person(name string) int64 {
	u.t.Helper()
	p, err := u.st.CreatePerson(context.Background(), name)
	if err != nil {
		u.t.Fatal(err)
	}
	return p.ID
}

func mustContain(t testing.TB, r response, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(r.body, w) {
			t.Fatalf("page lacks %q (status %d):\n%s", w, r.code, r.body)
		}
	}
}

func mustNotContain(t testing.TB, r response, nots ...string) {
	t.Helper()
	for _, n := range nots {
		if strings.Contains(r.body, n) {
			t.Fatalf("page contains %q (status %d):\n%s", n, r.code, r.body)
		}
	}
}

func box(x, y, w, h float64) store.Box { return store.Box{X: x, Y: y, W: w, H: h} }

func mustCompile(expr string) *regexp.Regexp { return regexp.MustCompile(expr) }

func removeFile(p string) error { return os.Remove(p) }
