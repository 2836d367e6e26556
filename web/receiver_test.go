package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/internal/auth"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/receiver"
	"github.com/facecluster/facecluster/store"
)

// newUIWithReceiver runs the UI with the real receiver in the same mux, as serve wires them:
// the UI's Pipeline is a ReceiverClient calling the receiver in memory; uploads go to file blob
// storage and ids to an embedded nsqd.
func newUIWithReceiver(t *testing.T, tweaks ...func(*receiver.Options)) (*testUI, *blob.Store) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	st := openStore(t)
	nsqd, err := queue.StartNSQD(queue.NSQDOptions{DataDir: t.TempDir(), TCPAddr: testutil.FreeAddr(t), HTTPAddr: testutil.FreeAddr(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nsqd.Close)
	prod, err := queue.NewProducer(nsqd.TCPAddr(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	blobs, err := blob.Open(ctx, "file://"+filepath.ToSlash(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	root := t.TempDir()
	ro := receiver.Options{Store: st, Publisher: prod, Blobs: blobs, ImageRoot: root, Logger: quiet}
	for _, tweak := range tweaks {
		tweak(&ro)
	}
	rc, err := receiver.New(ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	mux := http.NewServeMux()
	rc.Register(mux)
	u := newTestUIOnMux(t, mux, Options{}, Deps{Store: st, Pipeline: NewInProcessReceiverClient(mux, ""), Pictures: NewPictures(blobs)})
	u.dir = root
	return u, blobs
}

// postFiles posts files as the upload form (or the page's script) does.
func (u *testUI) postFiles(path string, files map[string][]byte, accept string) response {
	u.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField(csrfField, u.token())
	for name, data := range files {
		fw, _ := mw.CreateFormFile("file", name)
		_, _ = fw.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, u.http.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := u.client.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	return read(u.t, res)
}

func TestUploadThroughTheReceiver(t *testing.T) {
	u, _ := newUIWithReceiver(t)
	mustContain(t, u.get("/upload"), "Drop pictures here", "Choose files", "Or paste paths or URLs")
	photo, err := os.ReadFile(u.picture("door.jpg", 120, 90))
	if err != nil {
		t.Fatal(err)
	}

	// The page's script: one file per request, JSON back.
	r := u.postFiles("/upload/file", map[string][]byte{"door.jpg": photo}, "application/json")
	if r.code != http.StatusAccepted {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	var ok struct {
		ID          int64  `json:"id"`
		StatusLabel string `json:"status_label"`
	}
	if err := json.Unmarshal([]byte(r.body), &ok); err != nil || ok.ID == 0 || ok.StatusLabel != "queued" {
		t.Fatalf("upload answer %s (%v)", r.body, err)
	}
	img, err := u.st.GetImage(context.Background(), ok.ID)
	if err != nil || img.SourceKind != store.SourceUpload || img.Status != store.StatusPending {
		t.Fatalf("uploaded image %+v (%v)", img, err)
	}
	// The stored picture is served back (from blob storage) and thumbnailed.
	if f := u.get(fmt.Sprintf("/images/%d/file", ok.ID)); f.code != http.StatusOK || f.body != string(photo) {
		t.Fatalf("uploaded picture served back: %d, %d bytes", f.code, len(f.body))
	}
	if th := u.get(fmt.Sprintf("/thumbs/%d.jpg", ok.ID)); th.code != http.StatusOK {
		t.Fatalf("thumbnail of an upload: %d", th.code)
	}

	bad := u.postFiles("/upload/file", map[string][]byte{"notes.txt": []byte("minutes of the meeting")}, "application/json")
	if bad.code != http.StatusBadRequest || !strings.Contains(bad.body, `notes.txt was not accepted: file \"notes.txt\" is not a JPEG, PNG, GIF, WebP or BMP image`) {
		t.Fatalf("text file upload: %d %s", bad.code, bad.body)
	}

	// The plain form with several files: one line per file.
	form := u.postFiles("/upload", map[string][]byte{"a.jpg": photo, "b.txt": []byte("x")}, "")
	if form.code != http.StatusBadRequest {
		t.Fatalf("form upload with a bad file: %d", form.code)
	}
	mustContain(t, form, `<a href="/images/`+fmt.Sprint(ok.ID)+`">a.jpg</a>`, "b.txt was not accepted", "is not a JPEG, PNG, GIF, WebP or BMP image")
	if n := countImages(t, u.st); n != 1 {
		t.Fatalf("%d images after uploading the same photo twice and two bad files, want 1", n)
	}
	if r := u.postFiles("/upload/file", nil, "application/json"); r.code != http.StatusBadRequest || !strings.Contains(r.body, "exactly one file") {
		t.Fatalf("upload without a file: %d %s", r.code, r.body)
	}
}

func countImages(t *testing.T, st *store.Store) int {
	t.Helper()
	pg, err := st.ListImages(context.Background(), store.ImageFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(pg.Images)
}

func TestPastePathsThroughTheReceiver(t *testing.T) {
	u, _ := newUIWithReceiver(t)
	good := u.picture("cam1.jpg", 64, 48)
	outside := filepath.Join(t.TempDir(), "elsewhere.jpg")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := u.post("/upload/sources", url.Values{"sources": {good + "\n\n  cam1.jpg \n" + outside + "\nmissing.jpg\n"}})
	if r.code != http.StatusBadRequest {
		t.Fatalf("paste with bad lines: %d", r.code)
	}
	mustContain(t, r, ">"+good+"</a>", "queued", "is outside the image root", "missing.jpg was not accepted", "does not exist under the image root")
	if n := countImages(t, u.st); n != 1 {
		t.Fatalf("%d images, want 1 (the same file given twice, two bad lines)", n)
	}
	if r := u.post("/upload/sources", url.Values{"sources": {"  \n "}}); r.code != http.StatusBadRequest {
		t.Fatalf("empty paste: %d", r.code)
	} else {
		mustContain(t, r, "Paste at least one path or URL")
	}
	ok := u.post("/upload/sources", url.Values{"sources": {good}})
	if ok.code != http.StatusOK {
		t.Fatalf("good paste: %d %s", ok.code, ok.body)
	}
}

func TestRetryAndEnrolThroughTheReceiver(t *testing.T) {
	u, _ := newUIWithReceiver(t)
	id := u.seedImage("r.jpg", []seedFace{})
	after := u.follow(fmt.Sprintf("/images/%d/retry", id), nil)
	mustContain(t, after, "queued to be recognised again")
	failed := u.seedImage("f.jpg", nil)
	ctx := context.Background()
	if ok, err := u.st.ClaimImage(ctx, failed, "t", 60e9); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := u.st.RecordFailure(ctx, failed, "t", "broken", true, 1); err != nil {
		t.Fatal(err)
	}
	after = u.follow("/images/retry-failed", nil)
	mustContain(t, after, "1 failed image queued again.")
	if r := u.post("/images/999999/retry", nil); r.code != http.StatusNotFound {
		t.Fatalf("retrying a missing image: %d", r.code)
	}

	// Enrolling by upload needs a recognizer; without one the person is told what is missing.
	ann := u.person("Ann")
	photo, _ := os.ReadFile(u.picture("ann.jpg", 64, 64))
	res := u.postFiles(fmt.Sprintf("/people/%d/examples", ann), map[string][]byte{"ann.jpg": photo}, "")
	if res.code != http.StatusSeeOther {
		t.Fatalf("enrol upload: %d %s", res.code, res.body)
	}
	page := u.get(res.header.Get("Location"))
	mustContain(t, page, "0 examples added.", "ann.jpg was not added")
	mustNotContain(t, page, "server log")
	mustContain(t, page, "no recognizer is configured")
}

// TestReceiverClientOverHTTP is the separate-Deployment case: the UI reaches the receiver at a
// URL, with the API token when access control is on.
func TestReceiverClientOverHTTP(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	st := openStore(t)
	nsqd, err := queue.StartNSQD(queue.NSQDOptions{DataDir: t.TempDir(), TCPAddr: testutil.FreeAddr(t), HTTPAddr: testutil.FreeAddr(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nsqd.Close)
	prod, err := queue.NewProducer(nsqd.TCPAddr(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	root := t.TempDir()
	rc, err := receiver.New(receiver.Options{Store: st, Publisher: prod, ImageRoot: root, Auth: auth.New([]string{"api-secret"}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	mux := http.NewServeMux()
	rc.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	pic := filepath.Join(root, "gate.jpg")
	// Only its header: the receiver reads a submitted path's header, never its pixels.
	if err := os.WriteFile(pic, pngHeader(64, 48), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	good := NewReceiverClient(srv.URL, "api-secret", nil)
	res := good.SubmitSources(ctx, []string{"gate.jpg", "../etc/passwd"})
	if res[0].Err != nil || res[0].ID == 0 {
		t.Fatalf("good path over HTTP: %+v", res[0])
	}
	var ue *UserError
	if !errors.As(res[1].Err, &ue) || !strings.Contains(ue.Msg, `".." is not allowed`) || strings.HasPrefix(ue.Msg, "images[") {
		t.Fatalf("bad path over HTTP: %v", res[1].Err)
	}
	if err := good.RetryImage(ctx, 987654); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retrying a missing image: %v", err)
	}
	if _, err := good.SubmitUpload(ctx, "x.jpg", strings.NewReader("x")); !errors.As(err, &ue) {
		t.Fatalf("upload without blob storage: %v, want a message for the person", err)
	}

	wrong := NewReceiverClient(srv.URL, "guess", nil)
	if r := wrong.SubmitSources(ctx, []string{"gate.jpg"}); r[0].Err == nil || !strings.Contains(r[0].Err.Error(), "refused the UI's credentials") {
		t.Fatalf("wrong token: %v", r[0].Err)
	}
}
