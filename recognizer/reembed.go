package recognizer

// The reembed job kind (jobs.KindReembed): after an upgrade that changed the descriptor
// (face.ModelVersion), describe every example and stored face of another version again, from
// its original. It needs the face engine, so its handler lives here, beside the engine's other
// use, and runs in the recognizer role's job runner or in `facecluster reembed`.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/imageroot"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/store"
)

// ReembedStore is what the reembed kind needs of *store.Store.
type ReembedStore interface {
	ExamplesNotOfModel(ctx context.Context, model string, afterID int64, limit int) ([]store.Example, error)
	CountExamplesNotOfModel(ctx context.Context, model string, afterID int64) (int64, error)
	ReembedExample(ctx context.Context, id int64, fromModel string, descriptor []float32, model string) (bool, error)
	FacesNotOfModel(ctx context.Context, model string, afterID int64, limit int) ([]store.FaceOriginal, error)
	CountFacesNotOfModel(ctx context.Context, model string, afterID int64) (int64, error)
	ReembedFace(ctx context.Context, id int64, fromModel string, descriptor []float32, model string) (bool, error)
	GetFace(ctx context.Context, id int64) (store.Face, error)
	GetImage(ctx context.Context, id int64) (*store.Image, error)
}

// ReembedOptions configure the reembed handler.
type ReembedOptions struct {
	Engine *face.Engine   // required
	Store  ReembedStore   // required
	Blobs  *blob.Store    // reads uploaded originals; nil: those are left as they are
	Root   string         // the image root, for faces of path images; "": those are left as they are
	Limits imageio.Limits // decoding limits
	Logger *slog.Logger
}

// Reembed is the handler of jobs.KindReembed. Examples go first (the gallery), then the faces
// stored with images. An example is described again like a new enrolment photo (its primary
// face, the whole photo when none is found); an example taken from a face, and a stored face,
// from its image with the landmarks recorded with the face. Rows whose original is gone are
// left as they are: an example keeps its old descriptor (the recognizers leave it out of their
// gallery, the API and UI ask for it to be enrolled again), a face keeps its old descriptor.
func Reembed(o ReembedOptions) (jobs.Handler, error) {
	if o.Engine == nil || o.Store == nil {
		return nil, errors.New("recognizer: reembed needs the Engine and the Store")
	}
	h := &reembedHandler{opts: o, log: o.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With("role", "recognizer")
	if o.Root != "" {
		root, err := imageroot.Open(o.Root, 0)
		if err != nil {
			return nil, fmt.Errorf("recognizer: reembed: %w", err)
		}
		h.root = root
	}
	return h, nil
}

type reembedHandler struct {
	opts ReembedOptions
	root *imageroot.Root
	log  *slog.Logger
}

// Checkpoint phases: the last example id done, then the last face id done.
const (
	phaseExamples = "examples"
	phaseFaces    = "faces"
)

func (h *reembedHandler) parse(job store.Job) (*jobs.ReembedParams, string, int64, error) {
	p, err := jobs.ParseParams(jobs.KindReembed, job.Params)
	if err != nil {
		return nil, "", 0, jobs.Permanent(err)
	}
	if m := p.(*jobs.ReembedParams).Model; m != face.ModelVersion {
		return nil, "", 0, jobs.Permanent(fmt.Errorf("this reembed job is to model %q, but this runner's engine computes %q (a rolling upgrade in progress?): queue it again once every recognizer runs one version", m, face.ModelVersion))
	}
	if job.Checkpoint == "" {
		return p.(*jobs.ReembedParams), phaseExamples, 0, nil
	}
	phase, id, ok := strings.Cut(job.Checkpoint, ":")
	after, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || (phase != phaseExamples && phase != phaseFaces) {
		return nil, "", 0, jobs.Permanent(fmt.Errorf("reembed job checkpoint %q is not examples:<id> or faces:<id>", job.Checkpoint))
	}
	return p.(*jobs.ReembedParams), phase, after, nil
}

func (h *reembedHandler) Remaining(ctx context.Context, job store.Job) (int64, error) {
	p, phase, after, err := h.parse(job)
	if err != nil {
		return 0, err
	}
	var n int64
	faceAfter := int64(0)
	if phase == phaseExamples {
		if n, err = h.opts.Store.CountExamplesNotOfModel(ctx, face.ModelVersion, after); err != nil {
			return 0, err
		}
	} else {
		faceAfter = after
	}
	if p.SkipFaces {
		return n, nil
	}
	f, err := h.opts.Store.CountFacesNotOfModel(ctx, face.ModelVersion, faceAfter)
	return n + f, err
}

// Batch describes the next examples or faces after the checkpoint. Done twice (after a crash)
// it finds the rows it already did at the current version and passes them by.
func (h *reembedHandler) Batch(ctx context.Context, job store.Job) (jobs.Step, error) {
	p, phase, after, err := h.parse(job)
	if err != nil {
		return jobs.Step{}, err
	}
	if phase == phaseExamples {
		exs, err := h.opts.Store.ExamplesNotOfModel(ctx, face.ModelVersion, after, p.Batch)
		if err != nil {
			return jobs.Step{}, err
		}
		if len(exs) == 0 {
			return jobs.Step{Checkpoint: phaseFaces + ":0", Finished: p.SkipFaces}, nil
		}
		kept := 0
		for _, ex := range exs {
			ok, err := h.example(ctx, ex)
			if err != nil {
				return jobs.Step{}, err
			}
			if !ok {
				kept++
			}
		}
		if kept > 0 {
			h.log.Warn("examples without an original kept their old descriptor: they are left out of the gallery until their photo is enrolled again",
				"job_id", job.ID, "examples", kept, "model", face.ModelVersion)
		}
		return jobs.Step{Checkpoint: phaseExamples + ":" + strconv.FormatInt(exs[len(exs)-1].ID, 10), Done: int64(len(exs))}, nil
	}
	fs, err := h.opts.Store.FacesNotOfModel(ctx, face.ModelVersion, after, p.Batch)
	if err != nil {
		return jobs.Step{}, err
	}
	if len(fs) == 0 {
		return jobs.Step{Checkpoint: job.Checkpoint, Finished: true}, nil
	}
	kept := 0
	for _, f := range fs {
		img, err := h.faceImage(ctx, f.SourceKind, f.ImageSource)
		if err == nil {
			var d face.Descriptor
			if d, err = h.describeFace(ctx, img, f.Face); err == nil {
				if _, err := h.opts.Store.ReembedFace(ctx, f.ID, f.Model, d[:], face.ModelVersion); err != nil {
					return jobs.Step{}, err
				}
				continue
			}
		}
		if !gone(err) {
			return jobs.Step{}, err
		}
		kept++
		h.log.Debug("face kept its old descriptor: its image cannot be read", "job_id", job.ID, "face_id", f.ID, "image_id", f.ImageID, "err", err.Error())
	}
	if kept > 0 {
		h.log.Info("faces whose image is gone or unreadable kept their old descriptor", "job_id", job.ID, "faces", kept)
	}
	return jobs.Step{Checkpoint: phaseFaces + ":" + strconv.FormatInt(fs[len(fs)-1].ID, 10), Done: int64(len(fs))}, nil
}

// errNoOriginal: an example has no original to describe again.
var errNoOriginal = errors.New("no original kept")

// example describes one example again; false: it has no readable original and stays as it is.
func (h *reembedHandler) example(ctx context.Context, ex store.Example) (bool, error) {
	d, err := h.describeExample(ctx, ex)
	if err != nil {
		if gone(err) {
			h.log.Debug("example kept its old descriptor", "example_id", ex.ID, "person_id", ex.PersonID, "err", err.Error())
			return false, nil
		}
		return false, fmt.Errorf("re-embed example %d: %w", ex.ID, err)
	}
	if _, err := h.opts.Store.ReembedExample(ctx, ex.ID, ex.Model, d[:], face.ModelVersion); err != nil {
		return false, err
	}
	return true, nil
}

// describeExample computes an example's descriptor from its original: the photo's
// primary face (the whole photo when no face is found), as enrolment does; for an example
// taken from a face, that face of its image, by its recorded landmarks.
func (h *reembedHandler) describeExample(ctx context.Context, ex store.Example) (face.Descriptor, error) {
	switch {
	case ex.Original != "":
		img, err := h.original(ctx, ex.Original)
		if err != nil {
			return face.Descriptor{}, err
		}
		faces, _, err := DescribeImage(ctx, h.opts.Engine, img, face.Options{}, true)
		if err != nil {
			return face.Descriptor{}, err
		}
		best, ok := face.Primary(faces)
		if !ok {
			return face.Descriptor{}, fmt.Errorf("%w: no face found in %s, even as a whole-image crop", errNoOriginal, ex.Original)
		}
		return best.Descriptor, nil
	case ex.FaceID != 0:
		f, err := h.opts.Store.GetFace(ctx, ex.FaceID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return face.Descriptor{}, fmt.Errorf("%w: face %d is gone", errNoOriginal, ex.FaceID)
			}
			return face.Descriptor{}, err
		}
		im, err := h.opts.Store.GetImage(ctx, f.ImageID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return face.Descriptor{}, fmt.Errorf("%w: image %d is gone", errNoOriginal, f.ImageID)
			}
			return face.Descriptor{}, err
		}
		img, err := h.faceImage(ctx, im.SourceKind, im.Source)
		if err != nil {
			return face.Descriptor{}, err
		}
		return h.describeFace(ctx, img, f)
	}
	return face.Descriptor{}, errNoOriginal
}

// describeFace describes a stored face of img by its recorded box and landmarks.
func (h *reembedHandler) describeFace(ctx context.Context, img image.Image, f store.Face) (face.Descriptor, error) {
	if len(f.Landmarks) != len(face.Landmarks{}) {
		return face.Descriptor{}, fmt.Errorf("%w: face %d has %d landmarks recorded, not %d", errNoOriginal, f.ID, len(f.Landmarks), len(face.Landmarks{}))
	}
	ff := face.Face{Box: face.Box{X: f.Box.X, Y: f.Box.Y, W: f.Box.W, H: f.Box.H}, Score: f.Score}
	for i, p := range f.Landmarks {
		ff.Landmarks[i] = face.Point{X: p.X, Y: p.Y}
	}
	return h.opts.Engine.Describe(ctx, img, ff)
}

// original decodes an example's original: an absolute file path, or a blob key.
func (h *reembedHandler) original(ctx context.Context, ref string) (image.Image, error) {
	if filepath.IsAbs(ref) {
		img, _, err := imageio.DecodeFile(ref, h.opts.Limits)
		return img, err
	}
	return h.blob(ctx, ref)
}

// faceImage decodes the image a face was found in.
func (h *reembedHandler) faceImage(ctx context.Context, kind store.SourceKind, src string) (image.Image, error) {
	if kind != store.SourcePath {
		return h.blob(ctx, src)
	}
	if h.root == nil {
		return nil, fmt.Errorf("%w: no image root to read %s from", errNoOriginal, src)
	}
	_, real, err := h.root.Resolve(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoOriginal, err)
	}
	img, _, err := imageio.DecodeFile(real, h.opts.Limits)
	return img, err
}

func (h *reembedHandler) blob(ctx context.Context, ref string) (image.Image, error) {
	if h.opts.Blobs == nil {
		return nil, fmt.Errorf("%w: no blob storage to read %s from", errNoOriginal, ref)
	}
	limit := h.opts.Limits.MaxBytes
	if limit <= 0 {
		limit = imageio.DefaultMaxBytes
	}
	data, err := h.opts.Blobs.ReadAll(ctx, ref, limit)
	if err != nil {
		return nil, err
	}
	img, _, err := imageio.Decode(bytes.NewReader(data), h.opts.Limits)
	return img, err
}

// gone reports whether err means the original cannot be had (missing, unreadable, foreign):
// the row is then left as it is, not retried.
func gone(err error) bool {
	return errors.Is(err, errNoOriginal) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrForeign) ||
		errors.Is(err, imageio.ErrTooLarge) || errors.Is(err, imageio.ErrUnsupported) || errors.Is(err, imageio.ErrCorrupt)
}
