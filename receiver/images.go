package receiver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/httpjson"
	"github.com/facecluster/facecluster/store"
)

// JSON shapes of the API (documented in openapi.yaml).

type submittedJSON struct {
	ID      int64  `json:"id"`
	Source  string `json:"source"`
	Created bool   `json:"created"`
	Status  string `json:"status"`
}

type boxJSON struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

type personRefJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type faceJSON struct {
	ID       int64          `json:"id"`
	Index    int            `json:"index"`
	Box      boxJSON        `json:"box"`
	Score    float64        `json:"score"`
	Known    bool           `json:"known"`
	Person   *personRefJSON `json:"person"`
	Distance *float64       `json:"distance"`
}

type imageJSON struct {
	ID          int64      `json:"id"`
	Source      string     `json:"source"`
	SourceKind  string     `json:"source_kind"`
	Camera      string     `json:"camera"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason"`
	Attempts    int        `json:"attempts"`
	Width       int        `json:"width"`
	Height      int        `json:"height"`
	ContentHash string     `json:"content_hash"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ProcessedAt *time.Time `json:"processed_at"`
	Faces       []faceJSON `json:"faces"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func floatPtr(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func toImageJSON(im *store.Image) imageJSON {
	out := imageJSON{
		ID: im.ID, Source: im.Source, SourceKind: string(im.SourceKind), Camera: im.Camera,
		Status: string(im.Status), Reason: im.LastError, Attempts: im.Attempts, Width: im.Width, Height: im.Height,
		ContentHash: im.ContentHash, CreatedAt: im.CreatedAt, UpdatedAt: im.UpdatedAt, ProcessedAt: timePtr(im.ProcessedAt),
		Faces: make([]faceJSON, 0, len(im.Faces)),
	}
	for _, f := range im.Faces {
		fj := faceJSON{ID: f.ID, Index: f.Idx, Box: boxJSON{f.Box.X, f.Box.Y, f.Box.W, f.Box.H}, Score: f.Score,
			Known: f.Known(), Distance: floatPtr(f.Distance)}
		if f.Known() {
			fj.Person = &personRefJSON{ID: f.PersonID, Name: f.Person}
		}
		out.Faces = append(out.Faces, fj)
	}
	return out
}

// submit records the images and publishes the new ids (after the commit). A failed publish is
// logged: the images stay pending and the reconciler publishes them again.
func (rc *Receiver) submit(ctx context.Context, imgs []store.NewImage) ([]store.Submitted, error) {
	res, err := rc.opts.Store.SubmitImages(ctx, imgs)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(res))
	for _, s := range res {
		if s.Created {
			ids = append(ids, s.ID)
		}
	}
	if len(ids) > 0 {
		rc.publish(ctx, ids)
	}
	return res, nil
}

// publishTimeout bounds a publish: a hung nsqd must not hold requests (or the batch workers).
const publishTimeout = 5 * time.Second

// publish queues committed images. It goes on when the client has gone (the rows exist and
// should be processed) but not beyond publishTimeout; a failure is logged and the reconciler
// republishes the images, which stay pending.
func (rc *Receiver) publish(ctx context.Context, ids []int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := rc.opts.Publisher.Publish(ctx, ids...); err != nil {
		rc.log.Warn("publish failed; the reconciler will republish the pending images", "images", len(ids), "first_image_id", ids[0], "err", err)
	}
}

func submittedList(imgs []store.NewImage, res []store.Submitted) []submittedJSON {
	out := make([]submittedJSON, len(res))
	for i, s := range res {
		out[i] = submittedJSON{ID: s.ID, Source: imgs[i].Source, Created: s.Created, Status: string(s.Status)}
	}
	return out
}

// POST /image/post {"path": …} — the original's endpoint, now answering JSON.
func (rc *Receiver) compatSingle(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Path string `json:"path"`
	}
	if err := rc.decodeJSON(w, r, &req, false); err != nil {
		rc.fail(w, r, err)
		return
	}
	p, real, err := rc.resolvePath(req.Path)
	if err != nil {
		rc.fail(w, r, errorf(http.StatusUnprocessableEntity, "path: %v", err))
		return
	}
	if rc.checksHeaders(1) {
		if err := rc.checkHeaders([]string{"path: " + p}, []string{real}); err != nil {
			rc.fail(w, r, err)
			return
		}
	}
	img := store.NewImage{Source: p, Kind: store.SourcePath}
	if err := img.Validate(); err != nil {
		rc.fail(w, r, err)
		return
	}
	sub, err := rc.batch.submit(r.Context(), img)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, submittedJSON{ID: sub.ID, Source: p, Created: sub.Created, Status: string(sub.Status)})
}

// POST /images/post {"paths": [{"path": …}, …]} — the original's bulk endpoint.
func (rc *Receiver) compatBulk(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Paths []struct {
			Path string `json:"path"`
		} `json:"paths"`
	}
	if err := rc.decodeJSON(w, r, &req, false); err != nil {
		rc.fail(w, r, err)
		return
	}
	items := make([]submitItem, len(req.Paths))
	for i, p := range req.Paths {
		items[i] = submitItem{Path: p.Path}
	}
	rc.submitItems(w, r, items, "paths")
}

type submitItem struct {
	Path   string `json:"path,omitempty"`
	URL    string `json:"url,omitempty"`
	Camera string `json:"camera,omitempty"`
}

// POST /api/v1/images {"images": [{"path"|"url": …, "camera": …}, …]}
func (rc *Receiver) submitImages(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Images []submitItem `json:"images"`
	}
	if err := rc.decodeJSON(w, r, &req, true); err != nil {
		rc.fail(w, r, err)
		return
	}
	rc.submitItems(w, r, req.Images, "images")
}

func (rc *Receiver) submitItems(w http.ResponseWriter, r *http.Request, items []submitItem, field string) {
	switch {
	case len(items) == 0:
		rc.fail(w, r, errorf(http.StatusBadRequest, "%s: at least one image is required", field))
		return
	case len(items) > rc.opts.MaxBulk:
		rc.fail(w, r, errorf(http.StatusRequestEntityTooLarge, "%s: %d images in one request, more than the limit of %d", field, len(items), rc.opts.MaxBulk))
		return
	}
	// Every path is resolved at once: paths sharing a folder are checked against one listing
	// of it (imageroot.ResolveAll) instead of one lstat each.
	var rawPaths []string
	for _, it := range items {
		if it.URL == "" {
			rawPaths = append(rawPaths, it.Path)
		}
	}
	absPaths, realPaths, pathErrs := rc.root.ResolveAll(rawPaths)
	imgs := make([]store.NewImage, len(items))
	check := rc.checksHeaders(len(items))
	var names, reals []string
	if check {
		names, reals = make([]string, len(items)), make([]string, len(items))
	}
	for i, it := range items {
		switch {
		case it.Path != "" && it.URL != "":
			rc.fail(w, r, errorf(http.StatusBadRequest, "%s[%d]: give either path or url, not both", field, i))
			return
		case it.URL != "":
			src, err := rc.checkBlobURL(r.Context(), it.URL)
			if err != nil {
				rc.fail(w, r, prefixErr(fmt.Sprintf("%s[%d].url", field, i), err))
				return
			}
			imgs[i] = store.NewImage{Source: src, Kind: store.SourceURL, Camera: it.Camera}
		default:
			p, real, err := absPaths[0], realPaths[0], pathErrs[0]
			absPaths, realPaths, pathErrs = absPaths[1:], realPaths[1:], pathErrs[1:]
			if dotDot(it.Path) {
				err = fmt.Errorf("%s: \"..\" is not allowed in image paths", it.Path)
			}
			if err != nil {
				rc.fail(w, r, errorf(http.StatusUnprocessableEntity, "%s[%d].path: %v", field, i, err))
				return
			}
			imgs[i] = store.NewImage{Source: p, Kind: store.SourcePath, Camera: it.Camera}
			if check {
				names[i], reals[i] = fmt.Sprintf("%s[%d].path: %s", field, i, p), real
			}
		}
	}
	if check {
		if err := rc.checkHeaders(names, reals); err != nil {
			rc.fail(w, r, err)
			return
		}
	}
	res, err := rc.submit(r.Context(), imgs)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, map[string]any{"images": submittedList(imgs, res)})
}

func prefixErr(prefix string, err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return &apiError{status: ae.status, msg: prefix + ": " + ae.msg}
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// checkBlobURL accepts a URL of the configured blob storage whose object exists.
func (rc *Receiver) checkBlobURL(ctx context.Context, u string) (string, error) {
	if rc.opts.Blobs == nil {
		return "", errorf(http.StatusServiceUnavailable, "image URLs need blob storage, which is not configured")
	}
	if !strings.Contains(u, "://") {
		return "", errorf(http.StatusUnprocessableEntity, "%q is not a URL of the blob storage", u)
	}
	ok, err := rc.opts.Blobs.Exists(ctx, u)
	switch {
	case errors.Is(err, blob.ErrForeign):
		return "", errorf(http.StatusUnprocessableEntity, "%v", err)
	case err != nil:
		return "", err
	case !ok:
		return "", errorf(http.StatusUnprocessableEntity, "%s does not exist in the blob storage", u)
	}
	return u, nil
}

// POST /api/v1/images/upload (multipart: file fields "file", optional "camera"; header
// Idempotency-Key makes a retried request return the same images).
func (rc *Receiver) uploadImages(w http.ResponseWriter, r *http.Request) {
	if rc.opts.Blobs == nil {
		rc.fail(w, r, errorf(http.StatusServiceUnavailable, "uploads need blob storage, which is not configured"))
		return
	}
	if err := rc.parseMultipart(w, r); err != nil {
		rc.fail(w, r, err)
		return
	}
	defer r.MultipartForm.RemoveAll()
	fhs := files(r, "file", "files")
	if len(fhs) == 0 {
		rc.fail(w, r, errorf(http.StatusBadRequest, "no file: send the image in a multipart field named \"file\""))
		return
	}
	if len(fhs) > rc.opts.MaxBulk {
		rc.fail(w, r, errorf(http.StatusRequestEntityTooLarge, "%d files in one request, more than the limit of %d", len(fhs), rc.opts.MaxBulk))
		return
	}
	camera := r.FormValue("camera")
	idem := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if len(idem) > 255 {
		rc.fail(w, r, errorf(http.StatusBadRequest, "Idempotency-Key longer than 255 characters"))
		return
	}
	// Check every file before storing any.
	ups := make([]upload, len(fhs))
	for i, fh := range fhs {
		up, err := rc.checkImage(fh)
		if err != nil {
			rc.fail(w, r, err)
			return
		}
		ups[i] = up
	}
	// Blobs first, rows second: a row never points at a missing object. Should the database
	// then fail, the content-addressed objects stay behind harmlessly (a retry reuses them).
	imgs := make([]store.NewImage, len(ups))
	for i, up := range ups {
		key, sum, err := rc.opts.Blobs.PutContent(r.Context(), up.data, extOf[up.format], up.contentType)
		if err != nil {
			rc.fail(w, r, err)
			return
		}
		dedupe := "upload:sha256:" + sum // the same bytes are the same image
		if idem != "" {
			dedupe = "upload:idempotency:" + idem + ":" + strconv.Itoa(i)
		}
		imgs[i] = store.NewImage{Source: key, Kind: store.SourceUpload, Key: dedupe, Camera: camera,
			ContentHash: "sha256:" + sum, Width: up.width, Height: up.height}
	}
	res, err := rc.submit(r.Context(), imgs)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	out := submittedList(imgs, res)
	for i := range out {
		out[i].Source = ups[i].name
	}
	httpjson.Write(w, http.StatusAccepted, map[string]any{"images": out})
}

// GET /api/v1/images/{id}
func (rc *Receiver) getImage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	im, err := rc.opts.Store.GetImage(r.Context(), id)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, toImageJSON(im))
}

// GET /api/v1/images?status=&person=&camera=&from=&to=&cursor=&limit=
func (rc *Receiver) listImages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.ImageFilter{Camera: q.Get("camera"), Cursor: q.Get("cursor"), WithFaces: true}
	for _, v := range q["status"] {
		for _, s := range strings.Split(v, ",") {
			st, err := store.ParseStatus(s)
			if err != nil {
				rc.fail(w, r, errorf(http.StatusBadRequest, "status: %v", trimStorePrefix(err)))
				return
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if v := q.Get("person"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			rc.fail(w, r, errorf(http.StatusBadRequest, "person %q is not a positive integer id", v))
			return
		}
		// An unknown person is a wrong id, not a person seen nowhere.
		if _, err := rc.opts.Store.GetPerson(r.Context(), id); err != nil {
			rc.fail(w, r, err)
			return
		}
		f.PersonID = id
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				rc.fail(w, r, errorf(http.StatusBadRequest, "%s %q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", name, v))
				return
			}
			*dst = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		rc.fail(w, r, errorf(http.StatusBadRequest, "to must be after from (the range is from ≤ created < to)"))
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > store.MaxPageSize {
			rc.fail(w, r, errorf(http.StatusBadRequest, "limit %q must be an integer from 1 to %d", v, store.MaxPageSize))
			return
		}
		f.Limit = n
	}
	page, err := rc.opts.Store.ListImages(r.Context(), f)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	out := struct {
		Images     []imageJSON `json:"images"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}{Images: make([]imageJSON, 0, len(page.Images)), NextCursor: page.NextCursor}
	for i := range page.Images {
		out.Images = append(out.Images, toImageJSON(&page.Images[i]))
	}
	httpjson.Write(w, http.StatusOK, out)
}

// POST /api/v1/images/{id}/retry
func (rc *Receiver) retryImage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	if err := rc.opts.Store.RetryImage(r.Context(), id); err != nil {
		rc.fail(w, r, err)
		return
	}
	rc.publish(r.Context(), []int64{id})
	im, err := rc.opts.Store.GetImage(r.Context(), id)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, toImageJSON(im))
}

// POST /api/v1/images/retry {"status": ["failed"], "limit": 1000}
func (rc *Receiver) retryImages(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status []string `json:"status"`
		Limit  int      `json:"limit"`
	}
	if err := rc.decodeJSON(w, r, &req, true); err != nil {
		rc.fail(w, r, err)
		return
	}
	var sts []store.Status
	for _, s := range req.Status {
		st, err := store.ParseStatus(s)
		if err != nil {
			rc.fail(w, r, errorf(http.StatusBadRequest, "status: %v", trimStorePrefix(err)))
			return
		}
		sts = append(sts, st)
	}
	if req.Limit < 0 {
		rc.fail(w, r, errorf(http.StatusBadRequest, "limit must not be negative"))
		return
	}
	ids, err := rc.opts.Store.RetryImages(r.Context(), sts, req.Limit)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	if len(ids) > 0 {
		rc.publish(r.Context(), ids)
	}
	if ids == nil {
		ids = []int64{}
	}
	httpjson.Write(w, http.StatusAccepted, map[string]any{"retried": len(ids), "ids": ids})
}

// GET /api/v1/stats
func (rc *Receiver) stats(w http.ResponseWriter, r *http.Request) {
	counts, err := rc.opts.Store.CountByStatus(r.Context())
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	byStatus := map[string]int64{}
	var total int64
	for st, n := range counts {
		byStatus[string(st)] = n
		total += n
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"images": byStatus, "total": total})
}
