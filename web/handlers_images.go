package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/facecluster/facecluster/store"
	"github.com/facecluster/facecluster/web/internal/thumbs"
)

// imageFilter is the images page's filter form.
type imageFilter struct {
	Status   string
	PersonID int64
	From, To time.Time
	Cursor   string
}

// datetime-local inputs carry no zone; the UI states times in UTC.
const inputTime = "2006-01-02T15:04"

func (f imageFilter) FromInput() string { return inputValue(f.From) }
func (f imageFilter) ToInput() string   { return inputValue(f.To) }
func (f imageFilter) Active() bool {
	return f.Status != "" || f.PersonID != 0 || !f.From.IsZero() || !f.To.IsZero()
}

func inputValue(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(inputTime)
}

// query returns the filter as URL parameters, with cursor c.
func (f imageFilter) query(c string) string {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.PersonID != 0 {
		q.Set("person", strconv.FormatInt(f.PersonID, 10))
	}
	if !f.From.IsZero() {
		q.Set("from", f.FromInput())
	}
	if !f.To.IsZero() {
		q.Set("to", f.ToInput())
	}
	if c != "" {
		q.Set("cursor", c)
	}
	if len(q) == 0 {
		return "/"
	}
	return "/?" + q.Encode()
}

func parseImageFilter(q url.Values) (imageFilter, []string) {
	var f imageFilter
	var problems []string
	if v := q.Get("status"); v != "" {
		if _, err := store.ParseStatus(v); err != nil {
			problems = append(problems, fmt.Sprintf("%q is not a status; choose one from the list.", v))
		} else {
			f.Status = v
		}
	}
	if v := q.Get("person"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			problems = append(problems, "The person filter is not a valid person.")
		} else {
			f.PersonID = id
		}
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(inputTime, v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("The %q time %q is not a date and time like 2026-01-31T08:30.", tf.name, v))
				continue
			}
			*tf.dst = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		problems = append(problems, "The time range ends before it starts.")
	}
	f.Cursor = q.Get("cursor")
	return f, problems
}

type imagesData struct {
	Filter      imageFilter
	Statuses    []string
	People      []store.PersonName
	Images      []imageView
	FailedCount int64
	FailedMore  bool // more than FailedCount
	Next, First string
	LivePrepend bool
}

func (s *Server) imagesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, problems := parseImageFilter(r.URL.Query())
	data := imagesData{Filter: f}
	for _, st := range store.Statuses {
		data.Statuses = append(data.Statuses, string(st))
	}
	people, err := s.deps.Store.PeopleNames(ctx)
	if err != nil {
		s.fail(w, r, err, "Listing images")
		return
	}
	data.People = people
	if len(problems) > 0 {
		s.render(w, r, http.StatusBadRequest, "images", page{Title: "Images", Nav: "images", Error: strings.Join(problems, " "), Data: data})
		return
	}
	lf := store.ImageFilter{PersonID: f.PersonID, From: f.From, To: f.To, Cursor: f.Cursor, Limit: s.opts.PageSize, WithFaces: true}
	if f.Status != "" {
		lf.Statuses = []store.Status{store.Status(f.Status)}
	}
	pg, err := s.deps.Store.ListImages(ctx, lf)
	if errors.Is(err, store.ErrInvalid) {
		s.render(w, r, http.StatusBadRequest, "images", page{Title: "Images", Nav: "images",
			Error: "That page link is broken or too old. Start again from the newest images.", Data: data})
		return
	}
	if err != nil {
		s.fail(w, r, err, "Listing images")
		return
	}
	for i := range pg.Images {
		data.Images = append(data.Images, newImageView(&pg.Images[i]))
	}
	if pg.NextCursor != "" {
		data.Next = f.query(pg.NextCursor)
	}
	if f.Cursor != "" {
		data.First = f.query("")
	}
	data.LivePrepend = f.Cursor == "" && !f.Active()
	if data.FailedCount, err = s.deps.Store.CountImagesWithStatus(ctx, store.StatusFailed, maxFailedCount+1); err != nil {
		s.fail(w, r, err, "Listing images")
		return
	}
	if data.FailedCount > maxFailedCount {
		data.FailedCount, data.FailedMore = maxFailedCount, true
	}
	s.render(w, r, http.StatusOK, "images", page{Title: "Images", Nav: "images", Live: true, Data: data})
}

// maxFailedCount bounds counting failed images for the "retry all" banner.
const maxFailedCount = 1000

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, what string) {
	s.fail(w, r, fmt.Errorf("%s %q: %w", what, r.PathValue("id"), store.ErrNotFound), "Showing "+what)
}

type imageData struct {
	Image  imageView
	People []store.PersonName
}

func (s *Server) imagePage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this image")
		return
	}
	img, err := s.deps.Store.GetImage(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, fmt.Sprintf("Showing image %d", id))
		return
	}
	people, err := s.deps.Store.PeopleNames(r.Context())
	if err != nil {
		s.fail(w, r, err, fmt.Sprintf("Showing image %d", id))
		return
	}
	s.render(w, r, http.StatusOK, "image", page{Title: fmt.Sprintf("Image %d", id), Nav: "images", Live: true,
		Data: imageData{Image: newImageView(img), People: people}})
}

// imageCard is one card of the images list, for live updates.
func (s *Server) imageCard(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	img, err := s.deps.Store.GetImage(r.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		s.fail(w, r, err, "Showing an image")
		return
	}
	s.renderFragment(w, r, "card", newImageView(img))
}

// imageFile serves the original picture (browsers apply its EXIF orientation themselves).
func (s *Server) imageFile(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	img, err := s.deps.Store.GetImage(r.Context(), id)
	if err != nil {
		s.pictureFailed(w, r, err)
		return
	}
	rc, err := s.deps.Pictures.Open(r.Context(), img)
	if err != nil {
		s.pictureFailed(w, r, err)
		return
	}
	defer rc.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(rc, head)
	ctype := http.DetectContentType(head[:n])
	if !strings.HasPrefix(ctype, "image/") {
		s.pictureFailed(w, r, fmt.Errorf("image %d: source is %s, not a picture", id, ctype))
		return
	}
	// The header must be one a decoder reads, within the pixel limit: a decompression bomb (or a
	// picture no decoder knows) gets the placeholder, not its bytes for the browser to choke on.
	var seen bytes.Buffer
	cfg, _, err := image.DecodeConfig(io.TeeReader(io.MultiReader(bytes.NewReader(head[:n]), rc), &seen))
	if err != nil {
		s.pictureFailed(w, r, fmt.Errorf("image %d: %w", id, err))
		return
	}
	if int64(cfg.Width)*int64(cfg.Height) > s.opts.MaxPixels {
		s.pictureFailed(w, r, fmt.Errorf("image %d: %d×%d pixels, over the limit of %d", id, cfg.Width, cfg.Height, s.opts.MaxPixels))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "private, max-age=3600")
	_, _ = w.Write(seen.Bytes())
	_, _ = io.Copy(w, rc)
}

// pictureFailed answers an <img> request that cannot be served: a 404 with no body worth showing.
func (s *Server) pictureFailed(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
		s.log.WarnContext(r.Context(), "serve picture", "path", r.URL.Path, "err", err)
	}
	// Still a 404, but with an image body: browsers draw it in the card's <img> where a text body
	// would show a broken-image icon with the alt text spilling over the card.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "image/svg+xml")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, noPreviewSVG)
}

// noPreviewSVG stands in for a picture that cannot be shown (gone, or not a readable image).
const noPreviewSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" viewBox="0 0 400 300">` +
	`<rect width="400" height="300" fill="#2b2b2b"/>` +
	`<text x="200" y="158" fill="#ddd" font-family="sans-serif" font-size="24" text-anchor="middle">no preview</text></svg>`

func (s *Server) thumbnail(w http.ResponseWriter, r *http.Request) {
	idText, ok := strings.CutSuffix(r.PathValue("file"), ".jpg")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id <= 0 {
		http.NotFound(w, r)
		return
	}
	img, err := s.deps.Store.GetImage(r.Context(), id)
	if err != nil {
		s.pictureFailed(w, r, err)
		return
	}
	p, err := s.thumbs.Path(r.Context(), thumbKey(img), s.opts.ThumbSize, s.source(img))
	if err != nil {
		s.pictureFailed(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=86400")
	http.ServeFile(w, r, p)
}

func (s *Server) faceCrop(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := s.deps.Store.GetFace(r.Context(), id)
	if err != nil {
		s.pictureFailed(w, r, err)
		return
	}
	img, err := s.deps.Store.GetImage(r.Context(), f.ImageID)
	if err != nil {
		s.pictureFailed(w, r, err)
		return
	}
	// A margin around the box shows the face the way people recognise it (hair, chin).
	m := 0.25 * math.Max(f.Box.W, f.Box.H)
	crop := image.Rect(int(f.Box.X-m), int(f.Box.Y-m), int(f.Box.X+f.Box.W+m), int(f.Box.Y+f.Box.H+m))
	p, err := s.thumbs.CropPath(r.Context(), fmt.Sprintf("%s-face%d", thumbKey(img), f.ID), 160, s.source(img), crop)
	if err != nil {
		s.pictureFailed(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=86400")
	http.ServeFile(w, r, p)
}

// thumbKey names an image's cached thumbnails: a retried upload with new content gets new ones.
func thumbKey(img *store.Image) string {
	h := img.ContentHash
	if len(h) > 16 {
		h = h[:16]
	}
	if h == "" {
		h = "x"
	}
	return fmt.Sprintf("%d-%s", img.ID, strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, h))
}

func (s *Server) source(img *store.Image) thumbs.Source {
	return func(ctx context.Context) (io.ReadCloser, error) { return s.deps.Pictures.Open(ctx, img) }
}

func (s *Server) retryImage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this image")
		return
	}
	var err error
	if s.deps.Pipeline != nil {
		err = s.deps.Pipeline.RetryImage(r.Context(), id)
	} else {
		err = s.deps.Store.RetryImage(r.Context(), id) // the reconciler republishes it
	}
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			redirect(w, r, fmt.Sprintf("/images/%d", id), "The image is being processed right now; its result will appear here shortly.", true)
			return
		}
		s.fail(w, r, err, fmt.Sprintf("Re-running image %d", id))
		return
	}
	redirect(w, r, fmt.Sprintf("/images/%d", id), "The image is queued to be recognised again.", false)
}

func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) {
	var n int
	if s.deps.Pipeline != nil {
		var err error
		if n, err = s.deps.Pipeline.RetryFailed(r.Context()); err != nil {
			s.fail(w, r, err, "Retrying failed images")
			return
		}
	} else {
		ids, err := s.deps.Store.RetryImages(r.Context(), []store.Status{store.StatusFailed}, 0)
		if err != nil {
			s.fail(w, r, err, "Retrying failed images")
			return
		}
		n = len(ids)
	}
	redirect(w, r, "/", fmt.Sprintf("%d failed image%s queued again.", n, pluralS(n)), false)
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
