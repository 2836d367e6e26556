package receiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/internal/httpjson"
	"github.com/facecluster/facecluster/store"
)

type personJSON struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Examples  int        `json:"examples"`
	Images    int        `json:"images"`
	LastSeen  *time.Time `json:"last_seen"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func toPersonJSON(p store.Person) personJSON {
	return personJSON{ID: p.ID, Name: p.Name, Examples: p.Examples, Images: p.Images, LastSeen: timePtr(p.LastSeen), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

type exampleJSON struct {
	ID        int64     `json:"id"`
	PersonID  int64     `json:"person_id"`
	Model     string    `json:"model"`
	Source    string    `json:"source"`
	Original  string    `json:"original,omitempty"`
	FaceID    *int64    `json:"face_id"`
	CreatedAt time.Time `json:"created_at"`
	// Stale: computed by an older model than the recognizers' (face.ModelVersion), so left out
	// of their gallery until re-embedded; NeedsReenrol: and no original is kept to re-embed it
	// from, so its photo must be enrolled again.
	Stale        bool `json:"stale"`
	NeedsReenrol bool `json:"needs_reenrol"`
}

func toExampleJSON(e store.Example) exampleJSON {
	out := exampleJSON{ID: e.ID, PersonID: e.PersonID, Model: e.Model, Source: e.Source, Original: e.Original, CreatedAt: e.CreatedAt}
	out.Stale = e.Model != face.ModelVersion
	out.NeedsReenrol = out.Stale && e.Original == "" && e.FaceID == 0
	if e.FaceID != 0 {
		out.FaceID = &e.FaceID
	}
	return out
}

// GET /api/v1/people
func (rc *Receiver) listPeople(w http.ResponseWriter, r *http.Request) {
	people, err := rc.opts.Store.ListPeople(r.Context())
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	out := make([]personJSON, 0, len(people))
	for _, p := range people {
		out = append(out, toPersonJSON(p))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"people": out})
}

type nameRequest struct {
	Name string `json:"name"`
}

// POST /api/v1/people {"name": …}
func (rc *Receiver) createPerson(w http.ResponseWriter, r *http.Request) {
	var req nameRequest
	if err := rc.decodeJSON(w, r, &req, true); err != nil {
		rc.fail(w, r, err)
		return
	}
	p, err := rc.opts.Store.CreatePerson(r.Context(), req.Name)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/people/"+strconv.FormatInt(p.ID, 10))
	httpjson.Write(w, http.StatusCreated, toPersonJSON(p))
}

// GET /api/v1/people/{id}
func (rc *Receiver) getPerson(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	p, err := rc.opts.Store.GetPerson(r.Context(), id)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, toPersonJSON(p))
}

// PATCH /api/v1/people/{id} {"name": …}
func (rc *Receiver) renamePerson(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	var req nameRequest
	if err := rc.decodeJSON(w, r, &req, true); err != nil {
		rc.fail(w, r, err)
		return
	}
	if err := rc.opts.Store.RenamePerson(r.Context(), id, req.Name); err != nil {
		rc.fail(w, r, err)
		return
	}
	rc.getPerson(w, r)
}

// DELETE /api/v1/people/{id}: the person, their examples and their face assignments.
func (rc *Receiver) deletePerson(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	if err := rc.opts.Store.DeletePerson(r.Context(), id); err != nil {
		rc.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// GET /api/v1/people/{id}/examples
func (rc *Receiver) listExamples(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	exs, err := rc.opts.Store.ListExamples(r.Context(), id)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	out := make([]exampleJSON, 0, len(exs))
	for _, e := range exs {
		out = append(out, toExampleJSON(e))
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"examples": out})
}

// DELETE /api/v1/people/{id}/examples/{example}
func (rc *Receiver) removeExample(w http.ResponseWriter, r *http.Request) {
	pid, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	eid, err := pathID(r, "example")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	exs, err := rc.opts.Store.ListExamples(r.Context(), pid)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	found := false
	for _, e := range exs {
		found = found || e.ID == eid
	}
	if !found {
		rc.fail(w, r, errorf(http.StatusNotFound, "person %d has no example %d", pid, eid))
		return
	}
	if err := rc.opts.Store.RemoveExample(r.Context(), eid); err != nil {
		rc.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// imageInput is one image given to an enrol/recognize/verify call: uploaded bytes or a path.
type imageInput struct {
	label string
	img   *recognizerv1.Image
}

// readImageInputs reads the images of a synchronous call: multipart file fields, or a JSON body
// whose string fields name paths under the image root.
func (rc *Receiver) readImageInputs(w http.ResponseWriter, r *http.Request, fileFields []string, jsonBody any, jsonPaths func() []string) ([]imageInput, error) {
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/form-data") {
		if err := rc.parseMultipart(w, r); err != nil {
			return nil, err
		}
		var out []imageInput
		for _, field := range fileFields {
			for _, fh := range r.MultipartForm.File[field] {
				up, err := rc.checkImage(fh)
				if err != nil {
					return nil, err
				}
				out = append(out, imageInput{label: field + " " + fh.Filename, img: &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: up.data}}})
			}
		}
		return out, nil
	}
	if err := rc.decodeJSON(w, r, jsonBody, true); err != nil {
		return nil, err
	}
	var out []imageInput
	for _, p := range jsonPaths() {
		abs, _, err := rc.resolvePath(p)
		if err != nil {
			return nil, errorf(http.StatusUnprocessableEntity, "path: %v", err)
		}
		out = append(out, imageInput{label: p, img: &recognizerv1.Image{Source: &recognizerv1.Image_Path{Path: abs}}})
	}
	return out, nil
}

// recognizerError maps a recognizer gRPC error to a client-facing answer.
func recognizerError(what string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.DeadlineExceeded) {
			return errorf(http.StatusGatewayTimeout, "%s: the recognizer did not answer in time", what)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return errorf(http.StatusUnprocessableEntity, "%s: %s", what, st.Message())
	case codes.NotFound:
		return errorf(http.StatusUnprocessableEntity, "%s: %s", what, st.Message())
	case codes.PermissionDenied:
		return errorf(http.StatusForbidden, "%s: %s", what, st.Message())
	case codes.Unavailable, codes.ResourceExhausted:
		return errorf(http.StatusServiceUnavailable, "%s: the recognizer is unavailable, try again shortly", what)
	case codes.DeadlineExceeded:
		return errorf(http.StatusGatewayTimeout, "%s: the recognizer did not answer in time", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (rc *Receiver) needRecognizer() error {
	if rc.opts.Recognizer == nil {
		return errorf(http.StatusServiceUnavailable, "no recognizer is configured in this process")
	}
	return nil
}

// POST /api/v1/people/{id}/examples: multipart "file" fields, or JSON {"paths": […]} (also
// {"path": …}); optional "whole_image" (form field or JSON) treats each image as one face crop.
// Each image must pass enroll.Check — one face, large, sharp and frontal enough — or the
// request is refused (422) with what to fix, unless "allow_low_quality" is set, which enrols
// the largest face anyway and returns the problems as warnings. Without a detected face the
// whole image is used as the face (enrolment photos are often tight crops) and the response
// says so.
func (rc *Receiver) addExamples(w http.ResponseWriter, r *http.Request) {
	pid, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	if err := rc.needRecognizer(); err != nil {
		rc.fail(w, r, err)
		return
	}
	person, err := rc.opts.Store.GetPerson(r.Context(), pid)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	var req struct {
		Path            string   `json:"path"`
		Paths           []string `json:"paths"`
		WholeImage      bool     `json:"whole_image"`
		AllowLowQuality bool     `json:"allow_low_quality"`
	}
	inputs, err := rc.readImageInputs(w, r, []string{"file", "files"}, &req, func() []string {
		if req.Path != "" {
			return append([]string{req.Path}, req.Paths...)
		}
		return req.Paths
	})
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	whole, allowLow := req.WholeImage, req.AllowLowQuality
	if r.MultipartForm != nil {
		defer r.MultipartForm.RemoveAll()
		whole, _ = strconv.ParseBool(r.FormValue("whole_image"))
		allowLow, _ = strconv.ParseBool(r.FormValue("allow_low_quality"))
	}
	if len(inputs) == 0 {
		rc.fail(w, r, errorf(http.StatusBadRequest, "no image: send multipart \"file\" fields or JSON {\"paths\": [...]}"))
		return
	}
	// Describe every image first: nothing is enrolled unless all of them are usable.
	type described struct {
		desc     []float32
		model    string
		source   string
		original string
		upload   []byte // an uploaded photo, kept in blob storage as the example's original
		checked  enroll.Checked
		whole    bool // the whole image was described (asked for, or no face found)
	}
	var ds []described
	for _, in := range inputs {
		resp, err := rc.opts.Recognizer.Describe(r.Context(), &recognizerv1.DescribeRequest{
			Image: in.img, Options: &recognizerv1.DetectOptions{WholeImage: whole}, WholeImageFallback: true,
		})
		if err != nil {
			rc.fail(w, r, recognizerError(in.label, err))
			return
		}
		// Whole means no face was found and the photo was taken whole: not when asked for.
		fallback := resp.GetWholeImageUsed() && !whole
		checked, err := rc.checkExample(in, resp, fallback, allowLow)
		if err != nil {
			rc.fail(w, r, err)
			return
		}
		model := resp.GetModelVersion()
		if model == "" {
			model = rc.opts.ModelVersion
		}
		d := described{desc: checked.Face.Descriptor[:], model: model, checked: checked, whole: resp.GetWholeImageUsed()}
		if p, ok := in.img.Source.(*recognizerv1.Image_Path); ok {
			d.source, d.original = p.Path, p.Path
		} else {
			d.source, d.upload = "upload:"+strings.TrimPrefix(strings.TrimPrefix(in.label, "files "), "file "), in.img.GetData()
		}
		ds = append(ds, d)
	}
	// A photo (by path) that already is one of the person's examples is refused, not added twice:
	// a duplicate would weigh it double in the person's mean distance.
	for _, d := range ds {
		if strings.HasPrefix(d.source, "upload:") {
			continue // a file name says nothing about the photo
		}
		dup, err := rc.opts.Store.HasExample(r.Context(), pid, d.source)
		if err != nil {
			rc.fail(w, r, err)
			return
		}
		if dup {
			rc.fail(w, r, errorf(http.StatusConflict, "%s is already an example of %s", d.source, person.Name))
			return
		}
	}
	// Uploaded photos are kept (content-addressed, so a photo sent twice is stored once), as the
	// originals a newer model re-embeds them from (`facecluster reembed`): blobs first, rows
	// second, so an example never points at a missing photo.
	for i, d := range ds {
		if d.upload == nil || rc.opts.Blobs == nil {
			continue
		}
		_, format, err := image.DecodeConfig(bytes.NewReader(d.upload))
		if err != nil {
			rc.fail(w, r, errorf(http.StatusUnsupportedMediaType, "%s is not an image: %v", d.source, err))
			return
		}
		key, _, err := rc.opts.Blobs.PutContent(r.Context(), d.upload, extOf[format], "image/"+format)
		if err != nil {
			rc.fail(w, r, err)
			return
		}
		ds[i].original = key
	}
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		ex, err := rc.opts.Store.AddExample(r.Context(), store.NewExample{PersonID: pid, Descriptor: d.desc, Model: d.model, Source: d.source, Original: d.original})
		if err != nil {
			rc.fail(w, r, err)
			return
		}
		q := d.checked.Quality
		res := map[string]any{
			"example":          toExampleJSON(ex),
			"whole_image_used": d.whole,
			"quality":          map[string]float64{"face_size": q.Size, "sharpness": q.Sharpness, "yaw": q.Yaw},
			"warnings":         append([]string{}, d.checked.Warnings...),
		}
		if d.checked.Face.Whole {
			res["warnings"] = append(res["warnings"].([]string), enroll.WholeImageNotice)
		}
		out = append(out, res)
	}
	httpjson.Write(w, http.StatusCreated, map[string]any{"examples": out})
}

// checkExample measures the face the recognizer found in an example photo and applies the
// enrolment quality check (enroll.Check). The recognizer returns the faces' boxes and
// landmarks; the photo is decoded here once more to measure its sharpness, which keeps the
// check in one place for every way of enrolling. fallback says no face was found and the whole
// photo was taken as the face. A refusal is a 422 naming the photo.
func (rc *Receiver) checkExample(in imageInput, resp *recognizerv1.DescribeResponse, fallback, allowLow bool) (enroll.Checked, error) {
	var (
		img image.Image
		err error
	)
	lim := imageio.Limits{MaxPixels: rc.opts.MaxPixels}
	switch src := in.img.Source.(type) {
	case *recognizerv1.Image_Data:
		img, _, err = imageio.Decode(bytes.NewReader(src.Data), lim)
	case *recognizerv1.Image_Path:
		img, _, err = imageio.DecodeFile(src.Path, lim)
	}
	if err != nil {
		return enroll.Checked{}, errorf(http.StatusUnprocessableEntity, "%s: %v", in.label, err)
	}
	faces := make([]face.Face, 0, len(resp.GetFaces()))
	for _, pf := range resp.GetFaces() {
		f := face.Face{Score: pf.GetScore(), Whole: fallback}
		if b := pf.GetBox(); b != nil {
			f.Box = face.Box{X: b.GetX(), Y: b.GetY(), W: b.GetWidth(), H: b.GetHeight()}
		}
		for i, p := range pf.GetLandmarks() {
			if i < len(f.Landmarks) {
				f.Landmarks[i] = face.Point{X: p.GetX(), Y: p.GetY()}
			}
		}
		emb := pf.GetEmbedding()
		if len(emb) != len(f.Descriptor) {
			return enroll.Checked{}, fmt.Errorf("%s: the recognizer returned a %d-value descriptor, want %d", in.label, len(emb), len(f.Descriptor))
		}
		copy(f.Descriptor[:], emb)
		faces = append(faces, f)
	}
	c, err := enroll.Check(img, faces, enroll.DefaultQualityLimits, allowLow)
	var refused *enroll.RefusedError
	if errors.As(err, &refused) {
		return c, errorf(http.StatusUnprocessableEntity, "%s: %v (or send allow_low_quality=true to enrol it anyway)", in.label, err)
	}
	return c, err
}
