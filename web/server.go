package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"image"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/facecluster/facecluster/internal/auth"
	"github.com/facecluster/facecluster/store"
	"github.com/facecluster/facecluster/web/internal/thumbs"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the UI.
type Options struct {
	// CacheDir keeps generated thumbnails (serve uses <data-dir>/thumbs). Required.
	CacheDir string
	// PageSize is how many images a page of the images list shows (default 48).
	PageSize int
	// ThumbSize is the longer side of list thumbnails in pixels (default 360).
	ThumbSize int
	// MaxUploadBytes bounds one uploaded file (default 32 MiB).
	MaxUploadBytes int64
	// MaxPixels: a picture whose header claims more pixels is not served full size (default
	// 40 000 000, serve passes --max-image-pixels).
	MaxPixels int64
	// PollInterval is how often the live-update poller asks the store for changes (default 1s).
	PollInterval time.Duration
	// AccessTokens turns access control on: the UI then asks for one of these tokens (the API's
	// bearer tokens) on a login page and keeps internal/auth's signed session cookie.
	AccessTokens []string
	// SessionKey signs the CSRF tokens; random per process when empty (open forms then expire
	// when the process restarts). Replicas behind one address need the same key.
	SessionKey []byte
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL time.Duration
	// Decode decodes original pictures for thumbnails, EXIF orientation applied (so boxes line
	// up). Default: face/imageio with its default limits (the decoder the engine uses).
	Decode func(r io.Reader) (image.Image, error)
	// DescriptorModel is the descriptor version of the faces the recognizers store (serve passes
	// face.ModelVersion); an example taken from a face records it, so that the recognizers use
	// it. Default: the face-api.js crop's version, "face-api-1.7.15/recognition".
	DescriptorModel string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Pipeline is what the UI needs from the receiver to put work in; ReceiverClient implements it
// over the receiver's API. Optional: without it the upload page says uploading is unavailable,
// and retried images wait for the reconciler to republish them.
type Pipeline interface {
	// SubmitUpload stores an uploaded picture and queues it; errors a person should read are
	// UserErrors (not an image, too large, …).
	SubmitUpload(ctx context.Context, filename string, body io.Reader) (id int64, err error)
	// SubmitSources queues paths under the image root or URLs of uploaded pictures, one result
	// per source in order (a bad source does not stop the others).
	SubmitSources(ctx context.Context, sources []string) []SourceResult
	// RetryImage sets a finished image back to pending and queues it (store.ErrConflict while
	// it is being processed).
	RetryImage(ctx context.Context, id int64) error
	// RetryFailed queues every failed image again and says how many.
	RetryFailed(ctx context.Context) (int, error)
	// EnrolUpload describes the face in an uploaded photo and adds it as an example of the person.
	EnrolUpload(ctx context.Context, personID int64, filename string, body io.Reader) error
}

// SourceResult is the outcome of submitting one path or URL.
type SourceResult struct {
	Source string
	ID     int64
	Err    error
}

// Pictures opens an image's original bytes. Optional: the default, NewPictures(nil), reads path
// sources from disk only.
type Pictures interface {
	Open(ctx context.Context, img *store.Image) (io.ReadCloser, error)
}

// StatusSource reports what only the running process knows: queue depth, breaker, role health.
type StatusSource interface {
	Status(ctx context.Context) (StatusReport, error)
}

// StatusReport is a snapshot for the status page.
type StatusReport struct {
	QueueDepth int64
	QueueKnown bool
	Breaker    string // "closed", "open", "half-open"; empty when no processor runs here
	// Processing time per image (claim to outcome) over the processors' lifetimes, estimated
	// from their latency histograms; zero Known when no processor reports one.
	ProcessingP50, ProcessingP95 time.Duration
	ProcessingKnown              bool
	Roles                        []RoleHealth
}

// RoleHealth is one role's health.
type RoleHealth struct {
	Name    string
	Healthy bool
	Detail  string
}

// UserError is an error whose message is written for the person using the UI.
type UserError struct {
	Msg string
	Err error // the cause, for the log
}

func (e *UserError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}
func (e *UserError) Unwrap() error { return e.Err }

// Deps are the components the UI works over.
type Deps struct {
	Store    *store.Store // required
	Pipeline Pipeline
	Pictures Pictures
	Status   StatusSource
}

// Server is the UI. Create it with New.
type Server struct {
	opts   Options
	deps   Deps
	log    *slog.Logger
	pages  map[string]*template.Template
	csrf   *csrf
	auth   *auth.Auth
	thumbs *thumbs.Cache
	events *broker
	static http.Handler

	closeOnce      sync.Once
	done           chan struct{}
	shutdownHooked sync.Map // *http.Server → true once Close is registered to run at its shutdown
}

// New checks the options and prepares the UI; it starts nothing until pages are requested.
func New(opts Options, deps Deps) (*Server, error) {
	if deps.Store == nil {
		return nil, errors.New("web: no store")
	}
	if opts.CacheDir == "" {
		return nil, errors.New("web: no thumbnail cache directory (Options.CacheDir)")
	}
	if opts.DescriptorModel == "" {
		opts.DescriptorModel = defaultDescriptorModel
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 48
	}
	if opts.PageSize > store.MaxPageSize {
		return nil, fmt.Errorf("web: page size %d above the store's maximum %d", opts.PageSize, store.MaxPageSize)
	}
	if opts.ThumbSize <= 0 {
		opts.ThumbSize = 360
	}
	if opts.MaxPixels <= 0 {
		opts.MaxPixels = 40_000_000
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = 32 << 20
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Decode == nil {
		opts.Decode = decodeImage
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if deps.Pictures == nil {
		deps.Pictures = NewPictures(nil)
	}
	tc, err := thumbs.New(opts.CacheDir, opts.Decode)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:   opts,
		deps:   deps,
		log:    opts.Logger.With("role", "web"),
		pages:  pages,
		thumbs: tc,
		done:   make(chan struct{}),
		static: http.StripPrefix("/static/", staticFiles(http.FileServerFS(sub))),
	}
	// The largest body any form takes: the upload form's files.
	s.csrf = newCSRF(opts.SessionKey, maxUploadFiles*opts.MaxUploadBytes+(1<<20), s.csrfFailed, s.bodyTooLarge)
	s.auth = auth.New(opts.AccessTokens)
	s.auth.SessionTTL = opts.SessionTTL
	s.events = newBroker(deps.Store, opts.PollInterval, s.log)
	return s, nil
}

// Close ends the live-update streams and the poller. Pages keep working. It runs by itself when
// the http.Server carrying a stream starts shutting down.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.events.close()
	})
	return nil
}

// Register adds the UI's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	h := func(pattern string, fn http.HandlerFunc) {
		mux.Handle(pattern, securityHeaders(s.csrf.protect(s.requireLogin(fn))))
	}
	mux.Handle("GET /static/", securityHeaders(s.static))
	mux.Handle("GET /login", securityHeaders(http.HandlerFunc(s.loginPage)))
	mux.Handle("POST /login", securityHeaders(s.csrf.protect(http.HandlerFunc(s.login))))
	mux.Handle("POST /logout", securityHeaders(s.csrf.protect(http.HandlerFunc(s.logout))))

	h("GET /{$}", s.imagesPage)
	h("GET /images/{id}", s.imagePage)
	h("GET /images/{id}/card", s.imageCard)
	h("GET /images/{id}/file", s.imageFile)
	h("GET /thumbs/{file}", s.thumbnail)
	h("GET /faces/{id}/crop.jpg", s.faceCrop)
	h("POST /images/{id}/retry", s.retryImage)
	h("POST /images/retry-failed", s.retryFailed)
	h("POST /faces/{id}/assign", s.assignFace)
	h("POST /faces/{id}/unassign", s.unassignFace)
	h("POST /faces/{id}/new-person", s.newPersonFromFace)
	h("GET /upload", s.uploadPage)
	h("POST /upload", s.uploadForm)
	h("POST /upload/file", s.uploadFile)
	h("POST /upload/sources", s.uploadSources)
	h("GET /people", s.peoplePage)
	h("POST /people", s.createPerson)
	h("GET /people/{id}", s.personPage)
	h("POST /people/{id}/rename", s.renamePerson)
	h("GET /people/{id}/merge", s.mergeConfirm)
	h("POST /people/{id}/merge", s.mergePerson)
	h("GET /people/{id}/delete", s.deleteConfirm)
	h("POST /people/{id}/delete", s.deletePerson)
	h("POST /people/{id}/examples", s.addExamples)
	h("POST /examples/{id}/delete", s.removeExample)
	h("GET /unknown", s.unknownPage)
	h("GET /status", s.statusPage)
	h("GET /events", s.eventStream)
}

// staticFiles lets browsers cache the embedded assets briefly; they change only with the binary.
func staticFiles(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// page is what every template receives.
type page struct {
	Title    string
	Nav      string
	CSRF     string
	Flash    string
	Error    string
	Live     bool
	ShowNav  bool
	SignedIn bool
	Data     any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	t, ok := s.pages[name]
	if !ok {
		panic("web: no template " + name) // a programming error, caught by the handler tests
	}
	p.CSRF = s.csrf.token(w, r)
	p.ShowNav = name != "login"
	p.SignedIn = s.authEnabled() && name != "login"
	if p.Flash == "" && p.Error == "" {
		p.Flash, p.Error = takeFlash(w, r)
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "The page could not be drawn; the error is in the server log.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, buf.String())
}

// renderFragment renders a template's content block alone (a card for live updates).
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf strings.Builder
	if err := s.pages[name].ExecuteTemplate(&buf, "content", page{Data: data}); err != nil {
		s.log.ErrorContext(r.Context(), "render fragment", "fragment", name, "err", err)
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, buf.String())
}

// fail answers with an error page saying what went wrong in words a person can act on; the
// underlying error goes to the log only.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, what string) {
	code, msg := http.StatusInternalServerError, what+" failed because the database could not be reached. Try again in a moment; if it persists, check the server log."
	var ue *UserError
	switch {
	case errors.As(err, &ue):
		code, msg = http.StatusBadRequest, ue.Msg
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, what+": it does not exist (it may have been deleted)."
	case errors.Is(err, store.ErrInvalid):
		code, msg = http.StatusBadRequest, what+": "+invalidDetail(err)
	case errors.Is(err, store.ErrConflict):
		code, msg = http.StatusConflict, what+": "+invalidDetail(err)
	case errors.Is(err, context.Canceled):
		return // the browser went away
	}
	if code >= 500 {
		s.log.ErrorContext(r.Context(), what, "err", err, "path", r.URL.Path)
	} else {
		s.log.InfoContext(r.Context(), what, "err", err, "path", r.URL.Path)
	}
	if wantsJSON(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	s.render(w, r, code, "error", page{Title: "Something went wrong", ShowNav: true, Error: msg, Data: errorData{Heading: "Something went wrong"}})
}

type errorData struct{ Heading string }

// invalidDetail extracts the human part of a store validation error ("store: …: invalid input:
// empty name" → "empty name").
func invalidDetail(err error) string {
	msg := err.Error()
	for _, sentinel := range []error{store.ErrInvalid, store.ErrConflict} {
		if i := strings.LastIndex(msg, sentinel.Error()+": "); i >= 0 {
			return msg[i+len(sentinel.Error())+2:]
		}
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func (s *Server) csrfFailed(w http.ResponseWriter, r *http.Request) {
	msg := "This form has expired or was sent from another site. Reload the page and try again."
	s.log.InfoContext(r.Context(), "csrf check failed", "path", r.URL.Path, "origin", r.Header.Get("Origin"))
	if wantsJSON(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": msg})
		return
	}
	s.render(w, r, http.StatusForbidden, "error", page{Title: "Form expired", Error: msg, Data: errorData{Heading: "Form expired"}})
}

func (s *Server) bodyTooLarge(w http.ResponseWriter, r *http.Request) {
	msg := fmt.Sprintf("That is more than the server takes in one go (%d files of up to %d MB each). Send fewer or smaller files.",
		maxUploadFiles, s.opts.MaxUploadBytes>>20)
	if wantsJSON(r) {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": msg})
		return
	}
	s.render(w, r, http.StatusRequestEntityTooLarge, "error", page{Title: "Too large", Error: msg, Data: errorData{Heading: "Too large"}})
}

// redirect answers a form post with 303 to the page to show next, carrying a flash message.
func redirect(w http.ResponseWriter, r *http.Request, to, flash string, isErr bool) {
	if flash != "" {
		setFlash(w, flash, isErr)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

const flashCookie = "fc_flash"

func setFlash(w http.ResponseWriter, msg string, isErr bool) {
	kind := "ok:"
	if isErr {
		kind = "err:"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(kind + msg), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

func takeFlash(w http.ResponseWriter, r *http.Request) (flash, errMsg string) {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return "", ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1})
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return "", ""
	}
	if m, ok := strings.CutPrefix(v, "err:"); ok {
		return "", m
	}
	m, _ := strings.CutPrefix(v, "ok:")
	return m, ""
}

// localBack returns a same-site path to go back to, or fallback.
func localBack(v, fallback string) string {
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.Contains(v, `\`) {
		return v
	}
	return fallback
}

// BlobReader reads uploaded pictures from blob storage (internal/blob.Store satisfies it).
type BlobReader interface {
	ReadAll(ctx context.Context, ref string, maxBytes int64) ([]byte, error)
}

// maxPictureBytes bounds one picture read from blob storage for display.
const maxPictureBytes = 128 << 20

// NewPictures opens path sources from disk (the shared image volume) and uploads and URLs from
// blobs (nil: those are reported unavailable).
func NewPictures(blobs BlobReader) Pictures { return sourcePictures{blobs} }

type sourcePictures struct{ blobs BlobReader }

func (p sourcePictures) Open(ctx context.Context, img *store.Image) (io.ReadCloser, error) {
	if img.SourceKind == store.SourcePath {
		return os.Open(img.Source)
	}
	if p.blobs == nil {
		return nil, &UserError{Msg: "the picture is kept in blob storage, which this web server cannot reach"}
	}
	data, err := p.blobs.ReadAll(ctx, img.Source, maxPictureBytes)
	if err != nil {
		return nil, fmt.Errorf("read %s from blob storage: %w", img.Source, err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}
