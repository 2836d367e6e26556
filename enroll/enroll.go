package enroll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

// Store is what enrolment needs of *store.Store.
type Store interface {
	PersonByName(ctx context.Context, name string) (store.Person, error)
	EnsurePerson(ctx context.Context, name string) (store.Person, error)
	HasExample(ctx context.Context, personID int64, source string) (bool, error)
	AddExample(ctx context.Context, ne store.NewExample) (store.Example, error)
}

// Options configure Folder.
type Options struct {
	Engine *face.Engine
	Store  Store
	Dir    string         // the known-people folder: name.jpg, name_2.jpg, …
	Limits imageio.Limits // decoding limits
	// Quality is what a photo must meet to be enrolled (Check); the zero value means
	// DefaultQualityLimits.
	Quality QualityLimits
	// AllowLowQuality enrols photos that fail Quality anyway (their largest face), with a
	// warning: for a user who has no better photo and knows it.
	AllowLowQuality bool
	Progress        func(done, total int, photo Photo)
	Logger          *slog.Logger
}

// Report says what Folder did.
type Report struct {
	Photos   int      // images in the folder
	Enrolled int      // new examples
	Existing int      // photos enrolled before (same person, same file)
	Whole    []string // photos in which no face was found, enrolled as whole-image crops
	// Refused are the photos that failed the quality check (Check), each "path: what to fix".
	Refused []string
	// LowQuality are the photos enrolled despite failing it (AllowLowQuality), each
	// "path: the problems".
	LowQuality []string
	Failed     []string // photos that could not be read or described, with the reason
	Skipped    []string // files that are not images of a supported format
}

// String is the one-line summary `facecluster enroll` prints.
func (r Report) String() string {
	s := fmt.Sprintf("%d photos: %d enrolled, %d already enrolled, %d as whole-image crops, %d refused for quality, %d failed",
		r.Photos, r.Enrolled, r.Existing, len(r.Whole), len(r.Refused), len(r.Failed))
	if len(r.LowQuality) > 0 {
		s += fmt.Sprintf(" (%d enrolled despite low quality)", len(r.LowQuality))
	}
	return s
}

// Folder enrols every photo of a known-people folder, once: a photo already enrolled for
// its person (by path) is skipped, so running it at every start is cheap. Each photo must pass
// Check (one face, large, sharp and frontal enough); one that does not is refused with a
// warning saying what to fix, and tried again next time. A photo in which no face is detected
// is taken as a tight crop of one face, with a warning (WholeImageNotice). Bad photos are
// reported and skipped; the error is for the folder itself or the database.
func Folder(ctx context.Context, o Options) (Report, error) {
	var rep Report
	if o.Engine == nil || o.Store == nil {
		return rep, errors.New("enroll: Engine and Store are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.Quality == (QualityLimits{}) {
		o.Quality = DefaultQualityLimits
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
		// The person is created only with their first accepted photo: a refused photo leaves
		// nothing behind.
		has := false
		switch known, err := o.Store.PersonByName(ctx, ph.Person); {
		case err == nil:
			if has, err = o.Store.HasExample(ctx, known.ID, src); err != nil {
				return rep, fmt.Errorf("enroll %s: %w", ph.Path, err)
			}
		case !errors.Is(err, store.ErrNotFound):
			return rep, fmt.Errorf("enroll %s: %w", ph.Path, err)
		}
		if has {
			rep.Existing++
		} else {
			c, err := describeKnown(ctx, o.Engine, src, o.Limits, o.Quality, o.AllowLowQuality)
			var refused *RefusedError
			switch {
			case errors.As(err, &refused):
				log.Warn("enroll: photo refused", "file", ph.Path, "person", ph.Person, "err", err.Error())
				rep.Refused = append(rep.Refused, fmt.Sprintf("%s: %v", ph.Path, err))
			case err != nil:
				log.Warn("enroll: photo skipped", "file", ph.Path, "person", ph.Person, "err", err.Error())
				rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", ph.Path, err))
			default:
				person, err := o.Store.EnsurePerson(ctx, ph.Person)
				if errors.Is(err, store.ErrInvalid) {
					rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", ph.Path, err))
					break
				}
				if err != nil {
					return rep, fmt.Errorf("enroll %s: %w", ph.Path, err)
				}
				if _, err := o.Store.AddExample(ctx, store.NewExample{
					PersonID: person.ID, Descriptor: c.Face.Descriptor[:], Model: face.ModelVersion, Source: src, Original: src,
				}); err != nil {
					return rep, fmt.Errorf("enroll %s: %w", ph.Path, err)
				}
				if c.Face.Whole {
					log.Warn("enroll: "+WholeImageNotice, "file", ph.Path, "person", ph.Person)
					rep.Whole = append(rep.Whole, ph.Path)
				}
				if len(c.Warnings) > 0 {
					msg := strings.Join(c.Warnings, "; ")
					log.Warn("enroll: enrolled despite low quality", "file", ph.Path, "person", ph.Person, "problems", msg)
					rep.LowQuality = append(rep.LowQuality, fmt.Sprintf("%s: %s", ph.Path, msg))
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

func describeKnown(ctx context.Context, eng *face.Engine, path string, lim imageio.Limits, q QualityLimits, allowLow bool) (Checked, error) {
	img, _, err := imageio.DecodeFile(path, lim)
	if err != nil {
		return Checked{}, err
	}
	faces, _, err := recognizer.DescribeImage(ctx, eng, img, face.Options{}, true)
	if err != nil {
		return Checked{}, err
	}
	return Check(img, faces, q, allowLow)
}
