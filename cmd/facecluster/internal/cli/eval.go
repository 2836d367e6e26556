package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/evaluate"
)

func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure recognition quality on labelled photos (LFW, or your own known and probe folders)",
		Long: `eval measures how well faces are found and recognised, on a public benchmark (LFW) or on
your own labelled photos. The numbers for this project's defaults are in docs/benchmarks.md.`,
	}
	cmd.AddCommand(newEvalLFWCmd(), newEvalIdentifyCmd())
	return cmd
}

// evalFlags are the flags both eval subcommands share besides the engine's.
type evalFlags struct {
	engine    engineFlags
	alignment string
	threshold float32
}

func (f *evalFlags) register(cmd *cobra.Command) {
	f.engine.register(cmd, false)
	fl := cmd.Flags()
	fl.IntVar(&f.engine.cpus, "cpus", 0, "images analysed in parallel (0 or -1: one per CPU core)")
	fl.StringVar(&f.alignment, "alignment", face.DefaultAlignment.String(), "how faces are cut out for the recognition net: dlib (similarity transform onto dlib's mean face) or faceapi (face-api.js's upright crop); several, comma-separated, are compared on the same detections")
	fl.Float32Var(&f.threshold, "threshold", face.DefaultThreshold, "match threshold to report accuracy and error rates at")
}

func (f *evalFlags) options(cmd *cobra.Command) (evaluate.Options, error) {
	fo, err := f.engine.options()
	if err != nil {
		return evaluate.Options{}, err
	}
	var aligns []face.Alignment
	for _, s := range strings.Split(f.alignment, ",") {
		a, err := face.ParseAlignment(strings.TrimSpace(s))
		if err != nil {
			return evaluate.Options{}, usageError{fmt.Errorf("--alignment: %w", err)}
		}
		aligns = append(aligns, a)
	}
	if !(f.threshold > 0) {
		return evaluate.Options{}, usageError{fmt.Errorf("--threshold %g: want a positive distance", f.threshold)}
	}
	eng, err := f.engine.loadEngine(fo, true)
	if err != nil {
		return evaluate.Options{}, err
	}
	return evaluate.Options{
		Engine: eng, Face: fo, Alignments: aligns, Limits: f.engine.limits(), Workers: f.engine.workers(),
		Threshold: float64(f.threshold), Progress: newStageProgress(cmd.ErrOrStderr()),
	}, nil
}

func newEvalLFWCmd() *cobra.Command {
	var (
		flags     evalFlags
		imagesDir string
		pairsFile string
		stability int
		listMiss  bool
	)
	cmd := &cobra.Command{
		Use:   "lfw --images DIR --pairs pairs.txt",
		Short: "Face verification on Labeled Faces in the Wild (View 2: 6 000 pairs in 10 folds)",
		Long: `lfw runs the face pipeline once on every image of an LFW pairs file and reports:

  - faces missed: images without a detected face containing the image centre (LFW's photos
    are centred on the labelled person; of several such faces the one nearest the centre is
    taken); a pair with a missed face counts as a wrong answer at every threshold;
  - 10-fold accuracy, each fold with the threshold that is most accurate on the other nine;
  - accuracy, false-accept and false-reject rates at --threshold and at the best threshold;
  - the true-accept rate at a false-accept rate of 1 % and 0.1 %;
  - with --stability N, on N images spread over the set: how far (L2) descriptors move when
    the photo is saved again as a JPEG of quality 90 or its frame moves by 1 or 2 pixels.

Get LFW from its official site's repository (umass-vis-lfw): the folder images_deepfunneled
(DIR/Name/Name_0001.jpg) and pairs.txt.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if imagesDir == "" || pairsFile == "" {
				return usageError{errors.New("--images DIR and --pairs FILE are required (LFW's images_deepfunneled folder and pairs.txt)")}
			}
			if stability < 0 {
				return usageError{fmt.Errorf("--stability %d: want a number of images, 0 for none", stability)}
			}
			pairs, err := evaluate.ReadPairsFile(pairsFile)
			if err != nil {
				return err
			}
			opts, err := flags.options(cmd)
			if err != nil {
				return err
			}
			opts.Stability = stability
			reps, err := evaluate.RunLFW(cmd.Context(), opts, imagesDir, pairs)
			opts.Progress.(*stageProgress).finish()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, rep := range reps {
				if err := rep.WriteText(out); err != nil {
					return err
				}
			}
			if listMiss {
				for _, name := range reps[0].MissedImages {
					fmt.Fprintln(out, "missed:", name)
				}
			}
			return nil
		},
	}
	flags.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&imagesDir, "images", "", "LFW images folder (Name/Name_NNNN.jpg), e.g. images_deepfunneled")
	fl.StringVar(&pairsFile, "pairs", "", "LFW pairs file (View 2 pairs.txt)")
	fl.IntVar(&stability, "stability", 0, "measure descriptor stability on this many images (each analysed 3 more times); 0: not")
	fl.BoolVar(&listMiss, "list-missed", false, "list the images whose face was missed")
	return cmd
}

func newEvalIdentifyCmd() *cobra.Command {
	var (
		flags     evalFlags
		knownDir  string
		probesDir string
	)
	cmd := &cobra.Command{
		Use:   "identify --known DIR --probes DIR",
		Short: "Identification on your own labelled photos: rank-1 and unknown rate",
		Long: `identify builds a gallery from the known folder (name.jpg, name_N.jpg: the largest face of
each photo, or the whole photo when no face is detected, as 'facecluster identify' does) and
identifies the largest face of every probe photo, named the same way, with the product's matcher
(mean distance per person). It reports, for probes of known people, rank-1 (the nearest person
is the right one, whatever the threshold), how many are named right, called unknown or named
wrong at --threshold; and for probes of people not in the known folder, how many are taken for
someone known. A probe without a detected face counts as unknown.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if knownDir == "" || probesDir == "" {
				return usageError{errors.New("--known DIR and --probes DIR are required: folders of photos named name.jpg or name_N.jpg")}
			}
			opts, err := flags.options(cmd)
			if err != nil {
				return err
			}
			rep, err := evaluate.RunIdentify(cmd.Context(), opts, knownDir, probesDir)
			opts.Progress.(*stageProgress).finish()
			if err != nil {
				return err
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	flags.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&knownDir, "known", "", "folder of known people's photos (name.jpg, name_N.jpg)")
	fl.StringVar(&probesDir, "probes", "", "folder of photos to identify, named after who is in them (name.jpg, name_N.jpg)")
	return cmd
}

// stageProgress draws one progress bar per evaluation stage on a terminal stderr.
type stageProgress struct {
	mu     sync.Mutex
	stderr io.Writer
	bar    *progressbar.ProgressBar
}

func newStageProgress(stderr io.Writer) *stageProgress { return &stageProgress{stderr: stderr} }

func (p *stageProgress) Stage(name string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
	p.bar = newProgress(p.stderr, total, name)
}

func (p *stageProgress) Step() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

func (p *stageProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
