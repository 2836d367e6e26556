package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"math"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/annotate"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
)

func newDetectCmd() *cobra.Command {
	var (
		flags  engineFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "detect [flags] IMAGE|DIR...",
		Short: "Find the faces in images: one line per face with its box and score",
		Long: `detect prints one line per face found, like face_recognition's face_detection tool:

    path,top,right,bottom,left,score

(box edges in whole pixels of the upright image). With --json it prints one JSON object per image
instead, adding the 68 landmarks and the 128-number descriptor of every face. Directories are
searched recursively for .jpg, .jpeg, .png, .gif, .webp and .bmp files.

Exit status: 0 when faces were found, 3 when no input holds a face, 1 when an input failed
(the others are still processed), 2 for bad flags.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDetect(cmd, &flags, asJSON, args)
		},
	}
	flags.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per image, with landmarks and descriptors")
	return cmd
}

// detectResult is what detect learnt about one image.
type detectResult struct {
	info  imageio.Info
	faces []face.Face
	err   error
}

// jsonImage is the --json output for one image (one line each, JSON Lines).
type jsonImage struct {
	Path   string     `json:"path"`
	Width  int        `json:"width,omitempty"`
	Height int        `json:"height,omitempty"`
	Faces  []jsonFace `json:"faces"`
	Error  string     `json:"error,omitempty"`
}

type jsonFace struct {
	Box        jsonBox      `json:"box"`
	Score      float64      `json:"score"`
	Landmarks  [][2]float64 `json:"landmarks"`
	Descriptor []float32    `json:"descriptor"`
}

type jsonBox struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"width"`
	H float64 `json:"height"`
}

func runDetect(cmd *cobra.Command, flags *engineFlags, asJSON bool, args []string) error {
	run, err := newFaceRun(flags, args)
	if err != nil {
		return err
	}
	eng, err := flags.loadEngine(run.opts, asJSON)
	if err != nil {
		return err
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	w := &warner{stderr: stderr, bar: newProgress(stderr, len(run.inputs), "detect")}
	enc := json.NewEncoder(stdout)

	work := func(ctx context.Context, in input) detectResult {
		img, info, err := run.decode(in)
		if err != nil {
			return detectResult{err: err}
		}
		var faces []face.Face
		if asJSON {
			faces, err = eng.Analyze(ctx, img, run.opts)
		} else {
			faces, err = detectOnly(ctx, eng, img, run.opts)
		}
		if err != nil {
			return detectResult{info: info, err: fmt.Errorf("%s: %w", in.path, err)}
		}
		if err := in.annotate(img, detectLabels(faces)); err != nil {
			return detectResult{info: info, faces: faces, err: err}
		}
		return detectResult{info: info, faces: faces}
	}
	emit := func(in input, r detectResult) (failed, found bool) {
		if isCancel(r.err) { // interrupted: nothing to say about this image but "interrupted"
			return true, false
		}
		if r.err != nil {
			w.printf("facecluster: %v", r.err)
		}
		if asJSON {
			out := jsonImage{Path: in.path, Width: r.info.Width, Height: r.info.Height, Faces: []jsonFace{}}
			if r.err != nil {
				out.Error = r.err.Error()
			}
			for _, f := range r.faces {
				out.Faces = append(out.Faces, toJSONFace(f))
			}
			_ = enc.Encode(out)
		} else {
			for _, f := range r.faces {
				top, right, bottom, left := trbl(f.Box)
				fmt.Fprintf(stdout, "%s,%d,%d,%d,%d,%.4f\n", in.path, top, right, bottom, left, f.Score)
			}
		}
		return r.err != nil, len(r.faces) > 0
	}
	return eachInput(cmd.Context(), run, w, work, emit)
}

// detectOnly runs only the detector (no landmarks or descriptors), for the plain output.
func detectOnly(ctx context.Context, eng *face.Engine, img image.Image, opts face.Options) ([]face.Face, error) {
	dets, err := eng.Detect(ctx, img, opts)
	if err != nil {
		return nil, err
	}
	faces := make([]face.Face, len(dets))
	for i, d := range dets {
		faces[i] = face.Face{Box: d.Box, Score: d.Score}
	}
	return faces, nil
}

func detectLabels(faces []face.Face) []annotate.Label {
	labels := make([]annotate.Label, len(faces))
	for i, f := range faces {
		labels[i] = annotate.Label{Box: boxRect(f.Box), Text: fmt.Sprintf("%.2f", f.Score), Color: annotate.Blue}
	}
	return labels
}

// trbl gives a box's edges in whole pixels in face_recognition's order: top, right, bottom, left.
func trbl(b face.Box) (top, right, bottom, left int) {
	r := func(v float64) int { return int(math.Round(v)) }
	return r(b.Y), r(b.X + b.W), r(b.Y + b.H), r(b.X)
}

func toJSONFace(f face.Face) jsonFace {
	out := jsonFace{
		Box:        jsonBox{X: round2(f.Box.X), Y: round2(f.Box.Y), W: round2(f.Box.W), H: round2(f.Box.H)},
		Score:      math.Round(f.Score*1e4) / 1e4,
		Descriptor: f.Descriptor[:],
	}
	for _, p := range f.Landmarks {
		out.Landmarks = append(out.Landmarks, [2]float64{round2(p.X), round2(p.Y)})
	}
	return out
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
