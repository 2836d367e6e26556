package evaluate

import (
	"context"
	"fmt"
	"image"
	"io"
	"math"
	"strings"
	"time"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/gallery"
)

// IdentifyReport is the outcome of identifying labelled probe photos against known photos.
type IdentifyReport struct {
	Known, People int // known photos used, people they show
	KnownNoFace   int // known photos without a detected face, used whole (as identify does)
	Probes        int
	// Of the probes whose person is known:
	Enrolled    int
	Rank1       int // the nearest person (mean distance, at any threshold) is the right one
	Correct     int // named right at the threshold
	Unknown     int // called unknown at the threshold
	WrongPerson int // named as someone else at the threshold
	ProbeNoFace int // probes (any) without a detected face: counted wrong
	// Of the probes whose person is not among the known (impostors):
	Impostors         int
	ImpostorsAccepted int // named as a known person at the threshold
	Threshold         float64
	Alignment         string
	Elapsed           time.Duration
}

// RunIdentify describes the known photos (name.jpg, name_N.jpg in knownDir: the largest face,
// or the whole photo when none is detected) and identifies the largest face of each probe
// (named the same way in probesDir) with the gallery's matcher at Options.Threshold.
func RunIdentify(ctx context.Context, opts Options, knownDir, probesDir string) (*IdentifyReport, error) {
	if err := opts.withDefaults(); err != nil {
		return nil, err
	}
	if len(opts.Alignments) > 1 {
		return nil, fmt.Errorf("evaluate: identification runs one alignment at a time, not %d", len(opts.Alignments))
	}
	start := time.Now()
	known, _, err := enroll.Scan(knownDir)
	if err != nil {
		return nil, err
	}
	probes, _, err := enroll.Scan(probesDir)
	if err != nil {
		return nil, fmt.Errorf("probes: %w", err)
	}
	if len(known) == 0 || len(probes) == 0 {
		return nil, fmt.Errorf("evaluate: %d known photos in %s and %d probes in %s: want photos named name.jpg or name_N.jpg in both",
			len(known), knownDir, len(probes), probesDir)
	}
	describe := func(ctx context.Context, path string, wholeFallback bool) (described, error) {
		img, _, err := imageio.DecodeFile(path, opts.Limits)
		if err != nil {
			return described{}, err
		}
		faces, err := opts.Engine.Analyze(ctx, img, opts.Face)
		if err != nil {
			return described{}, fmt.Errorf("%s: %w", path, err)
		}
		if f, ok := face.Primary(faces); ok {
			return described{found: true, d: f.Descriptor}, nil
		}
		if !wholeFallback {
			return described{}, nil
		}
		return describeWhole(ctx, opts, img, path)
	}
	kd := make([]described, len(known))
	opts.Progress.Stage("identify: known", len(known))
	if err := forEach(ctx, len(known), opts.Workers, opts.Progress, func(ctx context.Context, i int) error {
		var err error
		kd[i], err = describe(ctx, known[i].Path, true)
		return err
	}); err != nil {
		return nil, err
	}
	rep := &IdentifyReport{Known: len(known), Probes: len(probes), Threshold: opts.Threshold, Alignment: opts.Face.Alignment.String()}
	g := gallery.New()
	ids := map[string]int64{}
	var examples []gallery.Example
	for i, k := range known {
		if kd[i].whole {
			rep.KnownNoFace++
		}
		id, ok := ids[k.Person]
		if !ok {
			id = int64(len(ids) + 1)
			ids[k.Person] = id
		}
		examples = append(examples, gallery.Example{ID: int64(i + 1), PersonID: id, Person: k.Person, Descriptor: kd[i].d})
	}
	rep.People = len(ids)
	if err := g.Replace(examples); err != nil {
		return nil, err
	}
	pd := make([]described, len(probes))
	opts.Progress.Stage("identify: probes", len(probes))
	if err := forEach(ctx, len(probes), opts.Workers, opts.Progress, func(ctx context.Context, i int) error {
		var err error
		pd[i], err = describe(ctx, probes[i].Path, false)
		return err
	}); err != nil {
		return nil, err
	}
	for i, p := range probes {
		_, enrolled := ids[p.Person]
		if enrolled {
			rep.Enrolled++
		} else {
			rep.Impostors++
		}
		if !pd[i].found {
			rep.ProbeNoFace++
			if enrolled {
				rep.Unknown++
			}
			continue
		}
		nearest := g.Match(pd[i].d, float32(math.Inf(1)))
		m := g.Match(pd[i].d, float32(opts.Threshold))
		switch {
		case !enrolled:
			if m.Known {
				rep.ImpostorsAccepted++
			}
		default:
			if nearest.Person == p.Person {
				rep.Rank1++
			}
			switch {
			case !m.Known:
				rep.Unknown++
			case m.Person == p.Person:
				rep.Correct++
			default:
				rep.WrongPerson++
			}
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// described is a photo's descriptor: of its largest face, or of the whole photo (whole).
type described struct {
	found bool
	whole bool
	d     face.Descriptor
}

// describeWhole takes the whole photo as the face, as identify does with known photos.
func describeWhole(ctx context.Context, opts Options, img image.Image, path string) (described, error) {
	o := opts.Face
	o.WholeImage = true
	faces, err := opts.Engine.Analyze(ctx, img, o)
	if err != nil || len(faces) == 0 {
		return described{}, fmt.Errorf("%s: whole image: %w", path, err)
	}
	return described{found: true, whole: true, d: faces[0].Descriptor}, nil
}

// WriteText prints the report for people.
func (rep *IdentifyReport) WriteText(w io.Writer) error {
	pct := func(a, b int) string {
		if b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f %%", 100*float64(a)/float64(b))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "identification: %d known photos of %d people (%d without a detected face, used whole), %d probes (alignment %s, threshold %.3f)\n",
		rep.Known, rep.People, rep.KnownNoFace, rep.Probes, rep.Alignment, rep.Threshold)
	fmt.Fprintf(&b, "  probes of known people: %d; rank-1 %s, named right %s, unknown rate %s, named wrong %s\n",
		rep.Enrolled, pct(rep.Rank1, rep.Enrolled), pct(rep.Correct, rep.Enrolled), pct(rep.Unknown, rep.Enrolled), pct(rep.WrongPerson, rep.Enrolled))
	fmt.Fprintf(&b, "  probes of other people: %d; named as someone known %s\n", rep.Impostors, pct(rep.ImpostorsAccepted, rep.Impostors))
	fmt.Fprintf(&b, "  probes without a detected face: %d (counted unknown)\n", rep.ProbeNoFace)
	fmt.Fprintf(&b, "  took %s\n", rep.Elapsed.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}
