package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/nsqio/go-nsq"

	"github.com/facecluster/facecluster/internal/auth"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/store"
)

var quiet = slog.New(slog.DiscardHandler)

// harness is a real receiver over HTTP: a migrated store (SQLite or MySQL), an in-process nsqd
// with a consumer collecting every published id, file blob storage and an image root.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	st     *store.Store
	rc     *Receiver
	root   string
	blobs  *blob.Store
	router routers.Router

	mu        sync.Mutex
	published []int64
}

type harnessOpt func(*Options)

func newHarness(t *testing.T, driver string, opts ...harnessOpt) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	so := store.Options{Driver: driver, DSN: filepath.Join(dir, "fc.db"), Logger: quiet}
	if driver == store.DriverMySQL {
		so.DSN = testutil.MySQLDSN(t)
	}
	st, err := store.Open(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, root: filepath.Join(dir, "images")}
	if err := os.MkdirAll(h.root, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := queue.StartNSQD(queue.NSQDOptions{DataDir: filepath.Join(dir, "nsqd"), TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	prod, err := queue.NewProducer(d.TCPAddr(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	cons, err := queue.NewConsumer(queue.ConsumerOptions{NSQDTCPAddrs: []string{d.TCPAddr()}, Concurrency: 4, Logger: quiet}, func(m *nsq.Message) {
		msg, err := queue.Decode(m.Body)
		if err != nil {
			t.Errorf("bad message: %v", err)
		}
		h.mu.Lock()
		h.published = append(h.published, msg.ImageID)
		h.mu.Unlock()
		m.Finish()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cons.Stop(context.Background()) })
	h.blobs, err = blob.Open(ctx, "file://"+filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Store: st, Publisher: prod, Blobs: h.blobs, ImageRoot: h.root, Logger: quiet}
	for _, f := range opts {
		f(&o)
	}
	h.rc, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.rc.Close() })
	mux := http.NewServeMux()
	h.rc.Register(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)

	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.yaml is invalid: %v", err)
	}
	if h.router, err = legacy.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return h
}

// file writes an image file under the image root and returns its absolute path.
func (h *harness) file(rel string) string {
	h.t.Helper()
	p := filepath.Join(h.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, pngBytes(h.t, 8, 8), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON: %q: %v", r.status, r.body, err)
	}
}

func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.json(t, &e)
	if e.Error == "" {
		t.Fatalf("error response without a message: %q", r.body)
	}
	return e.Error
}

// do sends a request and checks the response against the OpenAPI document.
func (h *harness) do(method, path, contentType string, body []byte, header ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, body: b}
	h.validate(req, out)
	return out
}

func (h *harness) validate(req *http.Request, r response) {
	h.t.Helper()
	vreq := req.Clone(context.Background())
	vreq.URL.Scheme, vreq.URL.Host = "", ""
	route, params, err := h.router.FindRoute(vreq)
	if err != nil {
		h.t.Fatalf("%s %s answered %d but is not in openapi.yaml: %v", req.Method, req.URL.Path, r.status, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(r.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		h.t.Fatalf("%s %s → %d does not match openapi.yaml: %v\nbody: %.500s", req.Method, req.URL.Path, r.status, err, r.body)
	}
}

func (h *harness) postJSON(path string, v any, header ...string) response {
	h.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do("POST", path, "application/json", b, header...)
}

type part struct {
	field, filename string
	data            []byte
}

func multipartBody(t *testing.T, parts []part, fields map[string]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", `form-data; name="`+p.field+`"; filename="`+p.filename+`"`)
		hdr.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// waitPublished waits until the consumer has seen every id in want (and returns everything seen).
func (h *harness) waitPublished(want ...int64) []int64 {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second) // generous: a loaded CI machine
	for {
		h.mu.Lock()
		got := slices.Clone(h.published)
		h.mu.Unlock()
		ok := true
		for _, id := range want {
			ok = ok && slices.Contains(got, id)
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("published %v, want all of %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) imageCount() int64 {
	h.t.Helper()
	c, err := h.st.CountByStatus(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

func withAuth(tokens ...string) harnessOpt {
	return func(o *Options) { o.Auth = auth.New(tokens) }
}
