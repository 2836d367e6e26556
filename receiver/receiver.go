// Package receiver is facecluster's HTTP API: the original's compatible endpoints
// (POST /image/post, POST /images/post) and the versioned API under /api/v1 (bulk submit, upload,
// images, retry, background jobs, people, enrolment examples, synchronous recognize and verify),
// described by the OpenAPI document served at /api/v1/openapi.yaml.
//
// Every submitted image is committed to the store before its id is published to the queue; a
// failed publish is logged and left to the reconciler, which republishes stale pending images.
// Bad input is answered with a 4xx and a JSON {"error": …} before anything is written.
package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/auth"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/httpjson"
	"github.com/facecluster/facecluster/internal/imageroot"
	"github.com/facecluster/facecluster/store"
)

// Publisher hands image ids to the processors (queue.Producer satisfies it).
type Publisher interface {
	Publish(ctx context.Context, imageIDs ...int64) error
}

// Recognizer is the recognizer service used for enrolment (Describe) and the synchronous
// recognize (Recognize) and verify (Verify) endpoints. The generated gRPC client
// (recognizerv1.NewRecognizerServiceClient) satisfies it.
type Recognizer interface {
	Recognize(ctx context.Context, in *recognizerv1.RecognizeRequest, opts ...grpc.CallOption) (*recognizerv1.RecognizeResponse, error)
	Describe(ctx context.Context, in *recognizerv1.DescribeRequest, opts ...grpc.CallOption) (*recognizerv1.DescribeResponse, error)
	Verify(ctx context.Context, in *recognizerv1.VerifyRequest, opts ...grpc.CallOption) (*recognizerv1.VerifyResponse, error)
}

// Options configure New.
type Options struct {
	Store      *store.Store // required
	Publisher  Publisher    // required
	Recognizer Recognizer   // needed by enrolment, recognize and verify (else they answer 503)
	Blobs      *blob.Store  // upload storage (else uploads and image URLs answer 503)
	// ImageRoot: submitted paths must resolve (symlinks included) to regular files under it.
	ImageRoot string     // required
	Auth      *auth.Auth // nil: access control off
	Logger    *slog.Logger

	MaxJSONBytes   int64 // request body limit of JSON endpoints
	MaxUploadBytes int64 // request body limit of uploads
	MaxBulk        int   // paths per bulk request
	MaxPixels      int64 // uploads and checked paths with more pixels are refused
	// HeaderCheckMax: a request submitting at most this many images by path has each file's
	// header read (format and pixel count; nothing decoded), and a broken, unsupported or
	// over-MaxPixels image refuses the request with 422 before anything is written. Larger bulk
	// requests only check that each path is a regular file under the root: reading every
	// header costs more than the rest of a bulk path's ingest (docs/pipeline.md); their bad
	// images fail in the processor with the reason. Default 1 (single submissions); negative:
	// never.
	HeaderCheckMax int
	// ModelVersion recorded with enrolled examples when the recognizer does not say.
	ModelVersion string
}

// DefaultOptions returns the settings New uses for those left zero; facecluster's flags take
// their defaults from here. There is no match threshold: /api/v1/recognize and /api/v1/verify
// use the recognizer's unless the request sets one.
func DefaultOptions() Options {
	return Options{
		MaxJSONBytes:   16 << 20,
		MaxUploadBytes: 64 << 20,
		MaxBulk:        10000,
		MaxPixels:      imageio.DefaultMaxPixels,
		HeaderCheckMax: 1,
		ModelVersion:   face.ModelVersion,
	}
}

// Receiver serves the API. Create it with New.
type Receiver struct {
	opts  Options
	root  *imageroot.Root // submitted paths must resolve inside it
	log   *slog.Logger
	batch *batcher // coalesces single-image submissions
}

// New validates the options and opens the image root.
func New(opts Options) (*Receiver, error) {
	if opts.Store == nil || opts.Publisher == nil {
		return nil, errors.New("receiver: a store and a publisher are required")
	}
	if opts.ImageRoot == "" {
		return nil, errors.New("receiver: an image root is required")
	}
	// Directory resolutions are cached for a second: bulk requests name thousands of files in a
	// few folders, and the recognizer checks the path again when it opens the file.
	root, err := imageroot.Open(opts.ImageRoot, time.Second)
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	def := DefaultOptions()
	if opts.MaxJSONBytes <= 0 {
		opts.MaxJSONBytes = def.MaxJSONBytes
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = def.MaxUploadBytes
	}
	if opts.MaxBulk <= 0 {
		opts.MaxBulk = def.MaxBulk
	}
	if opts.MaxPixels <= 0 {
		opts.MaxPixels = def.MaxPixels
	}
	if opts.HeaderCheckMax == 0 {
		opts.HeaderCheckMax = def.HeaderCheckMax
	}
	if opts.ModelVersion == "" {
		opts.ModelVersion = def.ModelVersion
	}
	rc := &Receiver{opts: opts, root: root, log: opts.Logger.With("role", "receiver")}
	rc.batch = newBatcher(rc, 4, 256, batchTimeout)
	return rc, nil
}

// checksHeaders reports whether a request submitting n images has their headers read.
func (rc *Receiver) checksHeaders(n int) bool { return n <= rc.opts.HeaderCheckMax }

// Close stops the submission workers (call it after the HTTP server has shut down).
func (rc *Receiver) Close() error {
	rc.batch.close()
	return nil
}

type route struct {
	method, path string
	handler      http.HandlerFunc
	public       bool // served without credentials
}

// routes is the single list Register serves and the OpenAPI test checks.
func (rc *Receiver) routes() []route {
	return []route{
		{"POST", "/image/post", rc.compatSingle, false},
		{"POST", "/images/post", rc.compatBulk, false},
		{"GET", "/api/v1/openapi.yaml", serveOpenAPI, true},
		{"POST", "/api/v1/images", rc.submitImages, false},
		{"GET", "/api/v1/images", rc.listImages, false},
		{"POST", "/api/v1/images/upload", rc.uploadImages, false},
		{"GET", "/api/v1/images/{id}", rc.getImage, false},
		{"POST", "/api/v1/images/{id}/retry", rc.retryImage, false},
		{"POST", "/api/v1/images/retry", rc.retryImages, false},
		{"GET", "/api/v1/stats", rc.stats, false},
		{"GET", "/api/v1/jobs", rc.listJobs, false},
		{"POST", "/api/v1/jobs", rc.createJob, false},
		{"GET", "/api/v1/jobs/{id}", rc.getJob, false},
		{"POST", "/api/v1/jobs/{id}/cancel", rc.cancelJob, false},
		{"GET", "/api/v1/people", rc.listPeople, false},
		{"POST", "/api/v1/people", rc.createPerson, false},
		{"GET", "/api/v1/people/{id}", rc.getPerson, false},
		{"PATCH", "/api/v1/people/{id}", rc.renamePerson, false},
		{"DELETE", "/api/v1/people/{id}", rc.deletePerson, false},
		{"GET", "/api/v1/people/{id}/examples", rc.listExamples, false},
		{"POST", "/api/v1/people/{id}/examples", rc.addExamples, false},
		{"DELETE", "/api/v1/people/{id}/examples/{example}", rc.removeExample, false},
		{"POST", "/api/v1/recognize", rc.recognize, false},
		{"POST", "/api/v1/verify", rc.verify, false},
	}
}

// Register adds every route to mux (bearer-token protected when access control is on), and a
// fallback for the rest of /api/v1/ that answers unknown paths (404) and wrong methods (405)
// with JSON errors too; the compatible paths get their JSON 405 from compatFallbacks.
func (rc *Receiver) Register(mux *http.ServeMux) {
	allowed := map[string][]string{}
	paths := http.NewServeMux() // method-less: which documented path a request is for
	for _, r := range rc.routes() {
		var h http.Handler = r.handler
		if !r.public {
			h = rc.opts.Auth.RequireAPI(h)
		}
		mux.Handle(r.method+" "+r.path, h)
		if _, ok := allowed[r.path]; !ok {
			paths.Handle(r.path, http.NotFoundHandler())
		}
		allowed[r.path] = append(allowed[r.path], r.method)
	}
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			methods := strings.Join(allowed[pattern], ", ")
			w.Header().Set("Allow", methods)
			httpjson.Write(w, http.StatusMethodNotAllowed, map[string]string{"error": fmt.Sprintf("%s is not supported on %s (allowed: %s)", r.Method, r.URL.Path, methods)})
			return
		}
		httpjson.Write(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no API endpoint %s (see /api/v1/openapi.yaml)", r.URL.Path)})
	})
	rc.compatFallbacks(mux, allowed)
}

// apiError is an error with the HTTP status it is answered with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// fail answers an error: apiErrors with their status and message, store sentinels mapped to
// 4xx, anything else 500 with a generic message (details go to the log, not the client).
func (rc *Receiver) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var mbe *http.MaxBytesError
	status, msg := http.StatusInternalServerError, "internal error; see the server log"
	switch {
	case errors.As(err, &ae):
		status, msg = ae.status, ae.msg
	case errors.As(err, &mbe):
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit)
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, trimStorePrefix(err)
	case errors.Is(err, store.ErrConflict):
		status, msg = http.StatusConflict, trimStorePrefix(err)
	case errors.Is(err, store.ErrInvalid):
		status, msg = http.StatusBadRequest, trimStorePrefix(err)
	case errors.Is(err, context.Canceled):
		status, msg = 499, "request canceled"
	}
	if status >= 500 {
		rc.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	httpjson.Write(w, status, map[string]string{"error": msg})
}

func trimStorePrefix(err error) string { return strings.TrimPrefix(err.Error(), "store: ") }

// decodeJSON reads a JSON body into v: size limit and nothing after the value; strict (the
// /api/v1 endpoints) also wants Content-Type JSON (or none) and refuses unknown fields. The
// compatible endpoints are lenient like the original, whose clients post with `curl -d` (sent
// as application/x-www-form-urlencoded); the strict ones take that type too when the body is a
// JSON object, which a form (name=value&…) never is, so a README example carried over from
// /image/post works without --json.
func (rc *Receiver) decodeJSON(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	var body io.Reader = http.MaxBytesReader(w, r.Body, rc.opts.MaxJSONBytes)
	if ct := r.Header.Get("Content-Type"); strict && ct != "" {
		mediaType, _, _ := strings.Cut(ct, ";")
		switch strings.ToLower(strings.TrimSpace(mediaType)) {
		case "application/json":
		case "application/x-www-form-urlencoded":
			b, err := io.ReadAll(body)
			if err != nil {
				return err // over the size limit, or the client went away
			}
			if !isJSONObject(b) {
				return errorf(http.StatusUnsupportedMediaType, "Content-Type %q with a body that is not a JSON object: send a JSON object, as application/json (curl --json)", ct)
			}
			body = bytes.NewReader(b)
		default:
			return errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not supported here: send application/json", ct)
		}
	}
	dec := json.NewDecoder(body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, errEOF) {
			return errorf(http.StatusBadRequest, "empty request body: send a JSON object")
		}
		return errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "malformed JSON: more than one value in the body")
	}
	return nil
}

// isJSONObject reports whether b is exactly one JSON object (white space around it allowed).
func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusBadRequest, "%s %q is not a positive integer id", name, v)
	}
	return id, nil
}
