package enroll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

// Store is what enrolment needs of *store.Store.
type Store interface {
	EnsurePerson(ctx context.Context, name string) (store.Person, error)
	HasExample(ctx context.Context, personID int64, source string) (bool, error)
	AddExample(ctx context.Context, ne store.NewExample) (store.Example, error)
}

// Options configure Folder.
type Options struct {
	Engine   *face.Engine
	Store    Store
	Dir      string         // the known-people folder: name.jpg, name_2.jpg, …
	Limits   imageio.Limits // decoding limits
	Progress func(done, total int, photo Photo)
	Logger   *slog.Logger
}

// Report says what Folder did.
type Report struct {
	Photos   int      // images in the folder
	Enrolled int      // new examples
	Existing int      // photos enrolled before (same person, same file)
	Whole    []string // photos in which no face was found, enrolled as whole-image crops
	Multi    []string // photos with several faces: the largest was enrolled
	Failed   []string // photos that could not be enrolled, with the reason
	Skipped  []string // files that are not images of a supported format
}

// String is the one-line summary `facecluster enroll` prints.
func (r Report) String() string {
	return fmt.Sprintf("%d photos: %d enrolled, %d already enrolled, %d as whole-image crops, %d failed",
		r.Photos, r.Enrolled, r.Existing, len(r.Whole), len(r.Failed))
}

// Folder enrols every photo of a known-people folder, once: a photo already enrolled for
// its person (by path) is skipped, so running it at every start is cheap. A photo in which no
// face is detected is taken as a tight crop of one face, with a warning; with several faces,
// the largest is the person's. Bad photos are reported and skipped; the error is for the folder
// itself or the database.
func Folder(ctx context.Context, o Options) (Report, error) {
	var rep Report
	if o.Engine == nil || o.Store == nil {
		return rep, errors.New("enroll: Engine and Store are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	photos, skipped, err := Scan(o.Dir)
	if err != nil {
		return rep, fmt.Errorf("enroll %s: %w", o.Dir, err)
	}
	rep.Photos, rep.Skipped = len(photos), skipped
	for _, s := range skipped {
		log.Warn("enroll: not an image of a supported format; skipped", "file", s)
	}
	for i, ph := range photos {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("enroll %s: %w", o.Dir, err)
		}
		src, err := filepath.Abs(ph.Path)
		if err != nil {
			src = ph.Path
		}
		person, err := o.Store.EnsurePerson(ctx, ph.Person)
		if err != nil {
			if errors.Is(err, store.ErrInvalid) {
				rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", ph.Path, err))
				continue
			}
			return rep, fmt.Errorf("enroll %s: %w", ph.Path, err)
		}
		has, err := o.Store.HasExample(ctx, person.ID, src)
		if err != nil {
			return rep, fmt.Errorf("enroll %s: %w", ph.Path, err)
		}
		if has {
			rep.Existing++
		} else {
			f, whole, multi, err := describeKnown(ctx, o.Engine, src, o.Limits)
			switch {
			case err != nil:
				log.Warn("enroll: photo skipped", "file", ph.Path, "person", ph.Person, "err", err.Error())
				rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", ph.Path, err))
			default:
				if whole {
					log.Warn("enroll: no face detected; using the whole photo as the face", "file", ph.Path, "person", ph.Person)
					rep.Whole = append(rep.Whole, ph.Path)
				}
				if multi {
					log.Warn("enroll: several faces; enrolling the largest", "file", ph.Path, "person", ph.Person)
					rep.Multi = append(rep.Multi, ph.Path)
				}
				if _, err := o.Store.AddExample(ctx, store.NewExample{
					PersonID: person.ID, Descriptor: f.Descriptor[:], Model: face.ModelVersion, Source: src, Original: src,
				}); err != nil {
					return rep, fmt.Errorf("enroll %s: %w", ph.Path, err)
				}
				rep.Enrolled++
			}
		}
		if o.Progress != nil {
			o.Progress(i+1, len(photos), ph)
		}
	}
	return rep, nil
}

func describeKnown(ctx context.Context, eng *face.Engine, path string, lim imageio.Limits) (f face.Face, whole, multi bool, err error) {
	img, _, err := imageio.DecodeFile(path, lim)
	if err != nil {
		return f, false, false, err
	}
	faces, whole, err := recognizer.DescribeImage(ctx, eng, img, face.Options{}, true)
	if err != nil {
		return f, false, false, err
	}
	best, ok := face.Primary(faces)
	if !ok {
		return f, false, false, errors.New("no face found, even as a whole-image crop")
	}
	return best, whole, len(faces) > 1, nil
}
