package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/annotate"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/gallery"
)

// Words printed in place of a name, as face_recognition's CLI prints them.
const (
	unknownPerson  = "unknown_person"
	noPersonsFound = "no_persons_found"
)

func newIdentifyCmd() *cobra.Command {
	var (
		flags         engineFlags
		knownDir      string
		tolerance     float32
		showDistance  bool
		assumeCropped bool
	)
	cmd := &cobra.Command{
		Use:   "identify --known DIR [flags] IMAGE|DIR...",
		Short: "Say who is in each image, from a folder of known people's photos",
		Long: `identify recognises the people in images, like face_recognition's command-line tool.

The known folder holds one or more photos per person, named name.jpg or name_N.jpg
(mary_jane_2.jpg is mary_jane); any supported image format. Each face of each image gives a line

    path,name[,distance]

with unknown_person for a face that matches nobody below --tolerance, and one line
path,no_persons_found for an image without faces. A person is named at most once per image.
The distance (--show-distance) is the mean distance to the best person's photos, also for
unknown_person (to the closest person), or empty with no known people.

A known photo in which no face is detected is taken as a tight crop of one face (with a warning);
with --assume-cropped the images to identify are treated the same way.

Exit status: 0 when faces were found, 3 when no input holds a face, 1 when an input failed
(the others are still processed), 2 for bad flags.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if knownDir == "" {
				return usageError{errors.New("--known DIR is required: a folder of photos named name.jpg or name_N.jpg")}
			}
			if !(tolerance > 0) { // NaN too
				return usageError{fmt.Errorf("--tolerance %g: want a positive distance (%g is the usual)", tolerance, face.DefaultThreshold)}
			}
			return runIdentify(cmd, &flags, identifyParams{knownDir, tolerance, showDistance, assumeCropped}, args)
		},
	}
	flags.register(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&knownDir, "known", "", "folder of known people's photos (name.jpg, name_N.jpg)")
	fl.Float32Var(&tolerance, "tolerance", face.DefaultThreshold, "faces closer than this (mean) distance to a person are that person; lower is stricter")
	fl.BoolVar(&showDistance, "show-distance", false, "add the face distance to each line")
	fl.BoolVar(&assumeCropped, "assume-cropped", false, "an image with no detected face is one face crop")
	return cmd
}

type identifyParams struct {
	knownDir      string
	tolerance     float32
	showDistance  bool
	assumeCropped bool
}

// identifyResult is one image's faces and who they are.
type identifyResult struct {
	faces   []face.Face
	matches []gallery.Match
	err     error
}

func runIdentify(cmd *cobra.Command, flags *engineFlags, p identifyParams, args []string) error {
	run, err := newFaceRun(flags, args)
	if err != nil {
		return err
	}
	photos, skipped, err := enroll.Scan(p.knownDir)
	if err != nil {
		return err
	}
	eng, err := flags.loadEngine(run.opts, true)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	w := &warner{stderr: stderr, bar: newProgress(stderr, len(photos)+len(run.inputs), "identify")}
	for _, s := range skipped {
		w.printf("facecluster: warning: %s: not an image named name.jpg or name_N.jpg, ignored", s)
	}

	g, nKnown, err := loadKnown(ctx, eng, flags, run.opts, photos, w)
	if err != nil {
		return err
	}
	nobodyKnown := nKnown == 0

	work := func(ctx context.Context, in input) identifyResult {
		img, _, err := run.decode(in)
		if err != nil {
			return identifyResult{err: err}
		}
		r := identifyResult{}
		r.faces, err = eng.Analyze(ctx, img, run.opts)
		if err != nil {
			return identifyResult{err: fmt.Errorf("%s: %w", in.path, err)}
		}
		if len(r.faces) == 0 && p.assumeCropped {
			f, err := describeWhole(ctx, eng, img)
			if err != nil {
				return identifyResult{err: fmt.Errorf("%s: %w", in.path, err)}
			}
			r.faces = []face.Face{f}
		}
		ds := make([][gallery.Dim]float32, len(r.faces))
		for i, f := range r.faces {
			ds[i] = f.Descriptor
		}
		r.matches = g.MatchFaces(ds, p.tolerance)
		if err := in.annotate(img, identifyLabels(r)); err != nil {
			r.err = err
		}
		return r
	}
	emit := func(in input, r identifyResult) (failed, found bool) {
		if isCancel(r.err) { // interrupted: nothing to say about this image but "interrupted"
			return true, false
		}
		if r.err != nil { // with faces, only the annotated copy failed: the answer is still good
			w.printf("facecluster: %v", r.err)
		}
		if r.err != nil && len(r.faces) == 0 {
			return true, false
		}
		if len(r.faces) == 0 {
			fmt.Fprintf(stdout, "%s,%s\n", in.path, noPersonsFound)
			return false, false
		}
		for _, m := range r.matches {
			line := in.path + "," + matchName(m)
			if p.showDistance {
				line += "," + matchDistance(m, nobodyKnown)
			}
			fmt.Fprintln(stdout, line)
		}
		return r.err != nil, true
	}
	return eachInput(ctx, run, w, work, emit)
}

// loadKnown describes every known photo (in parallel) and fills a gallery. A photo without a
// detected face is described as a whole-image crop, one with several faces by its largest face;
// either, and a photo that fails the enrolment quality check (enroll.Check), with a warning; a photo that cannot be read fails the command, as its person would
// silently go missing.
func loadKnown(ctx context.Context, eng *face.Engine, flags *engineFlags, opts face.Options, photos []enroll.Photo, w *warner) (*gallery.Gallery, int, error) {
	type known struct {
		d   face.Descriptor
		err error
	}
	examples := make([]gallery.Example, 0, len(photos))
	var firstErr error
	people := map[string]int64{}
	work := func(ctx context.Context, ph enroll.Photo) known {
		img, _, err := imageio.DecodeFile(ph.Path, flags.limits())
		if err != nil {
			return known{err: fmt.Errorf("known photo: %w", err)}
		}
		faces, err := eng.Analyze(ctx, img, opts)
		if err != nil {
			return known{err: fmt.Errorf("known photo %s: %w", ph.Path, err)}
		}
		if len(faces) == 0 {
			w.printf("facecluster: warning: no face found in known photo %s: using the whole image as the face of %s", ph.Path, ph.Person)
			f, err := describeWhole(ctx, eng, img)
			if err != nil {
				return known{err: fmt.Errorf("known photo %s: %w", ph.Path, err)}
			}
			faces = []face.Face{f}
		}
		// The enrolment quality check, as warnings: identify uses every known photo.
		c, err := enroll.Check(img, faces, enroll.DefaultQualityLimits, true)
		if err != nil {
			return known{err: fmt.Errorf("known photo %s: %w", ph.Path, err)}
		}
		if len(c.Warnings) > 0 {
			w.printf("facecluster: warning: known photo %s of %s: %s; using it anyway (its largest face)", ph.Path, ph.Person, strings.Join(c.Warnings, "; "))
		}
		return known{d: c.Face.Descriptor}
	}
	emit := func(ph enroll.Photo, k known) {
		w.step()
		if k.err != nil {
			if firstErr == nil {
				firstErr = k.err
			}
			return
		}
		id, ok := people[ph.Person]
		if !ok {
			id = int64(len(people) + 1)
			people[ph.Person] = id
		}
		examples = append(examples, gallery.Example{ID: int64(len(examples) + 1), PersonID: id, Person: ph.Person, Descriptor: k.d})
	}
	forEachOrdered(ctx, flags.workers(), photos, work, emit)
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("interrupted: %w", err)
	}
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if len(examples) == 0 {
		w.printf("facecluster: warning: no known people: every face will be %s", unknownPerson)
	}
	g := gallery.New()
	if err := g.Replace(examples); err != nil {
		return nil, 0, fmt.Errorf("known people: %w", err)
	}
	return g, len(examples), nil
}

func matchName(m gallery.Match) string {
	if !m.Known {
		return unknownPerson
	}
	return m.Person
}

// matchDistance is the distance printed by --show-distance: empty when there is nobody known
// to be near or far from.
func matchDistance(m gallery.Match, nobodyKnown bool) string {
	if nobodyKnown {
		return ""
	}
	return fmt.Sprintf("%.4f", m.Distance)
}

func identifyLabels(r identifyResult) []annotate.Label {
	labels := make([]annotate.Label, len(r.faces))
	for i, f := range r.faces {
		l := annotate.Label{Box: boxRect(f.Box), Color: annotate.Red, Text: unknownPerson}
		if i < len(r.matches) && r.matches[i].Known {
			l.Color, l.Text = annotate.Green, strings.ReplaceAll(r.matches[i].Person, "_", " ")
		}
		labels[i] = l
	}
	return labels
}
