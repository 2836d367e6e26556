package cli

// Shared by detect, identify and compare: engine flags, input expansion, the ordered parallel
// runner and the progress bar.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/annotate"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/engine/face/models"
)

// engineFlags are the flags every face command shares.
type engineFlags struct {
	modelsDir     string
	detector      string
	inputSize     int
	minConfidence float64
	tileSize      int
	maxPixels     int64
	cpus          int
	annotateDir   string
}

func (f *engineFlags) register(cmd *cobra.Command, parallel bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.modelsDir, "models-dir", "", "face-api.js model directory (default: $"+models.EnvDir+", ./"+models.RelDir+", beside the executable, "+models.SystemDir+")")
	fl.StringVar(&f.detector, "detector", "ssd", "face detector: ssd (SSD MobileNetV1 on the photo and on it padded, which finds faces filling the photo), ssd-raw (one SSD pass, as face-api.js) or tiny (TinyFaceDetector, fast)")
	fl.IntVar(&f.tileSize, "tile-size", 0, fmt.Sprintf("also run SSD on overlapping squares of this many pixels, for faces too small to find in the whole photo (384 finds 40-pixel faces in 1920×1080, one SSD pass per tile: 28 there); 0: off, else at least %d", face.MinTileSize))
	fl.IntVar(&f.inputSize, "input-size", face.DefaultInputSize, "tiny detector input size: a multiple of 32 from 128 to 608")
	fl.Float64Var(&f.minConfidence, "min-confidence", face.DefaultMinConfidence, "minimum detection score, between 0 and 1")
	fl.Int64Var(&f.maxPixels, "max-pixels", imageio.DefaultMaxPixels, "refuse images with more pixels than this (checked before decoding)")
	if parallel {
		fl.IntVar(&f.cpus, "cpus", 1, "images processed in parallel (0 or -1: one per CPU core)")
		fl.StringVar(&f.annotateDir, "annotate", "", "write JPEG copies of the images with boxes and labels drawn into this directory")
	}
}

// options validates the flags and returns the engine options they select.
func (f *engineFlags) options() (face.Options, error) {
	opts := face.Options{MinConfidence: f.minConfidence, InputSize: f.inputSize, TileSize: f.tileSize}
	det, err := face.ParseDetector(f.detector)
	if err != nil {
		return opts, usageError{fmt.Errorf("--detector: %w", err)}
	}
	opts.Detector = det
	if det == face.DetectorTiny && (f.inputSize < 128 || f.inputSize > 608 || f.inputSize%32 != 0) {
		return opts, usageError{fmt.Errorf("--input-size %d: want a multiple of 32 from 128 to 608", f.inputSize)}
	}
	if f.tileSize != 0 && (f.tileSize < face.MinTileSize || det == face.DetectorTiny) {
		return opts, usageError{fmt.Errorf("--tile-size %d: want 0, or at least %d with --detector ssd or ssd-raw", f.tileSize, face.MinTileSize)}
	}
	if !(f.minConfidence > 0 && f.minConfidence < 1) {
		return opts, usageError{fmt.Errorf("--min-confidence %g: want a value between 0 and 1", f.minConfidence)}
	}
	if f.maxPixels <= 0 {
		return opts, usageError{fmt.Errorf("--max-pixels %d: want a positive number", f.maxPixels)}
	}
	return opts, nil
}

func (f *engineFlags) workers() int {
	if f.cpus <= 0 {
		return runtime.NumCPU()
	}
	return f.cpus
}

func (f *engineFlags) limits() imageio.Limits { return imageio.Limits{MaxPixels: f.maxPixels} }

// loadEngine finds and verifies the model weights and loads the networks opts needs: the
// chosen detector, plus the landmark and recognition nets when describe is set.
func (f *engineFlags) loadEngine(opts face.Options, describe bool) (*face.Engine, error) {
	dir, err := models.Dir(f.modelsDir)
	if err != nil {
		return nil, err
	}
	nets := face.NetSSD
	if opts.Detector == face.DetectorTiny {
		nets = face.NetTiny
	}
	if describe {
		nets |= face.NetLandmarks | face.NetRecognition
	}
	eng, err := face.Load(face.LoadOptions{ModelsDir: dir, Nets: nets})
	if err != nil {
		return nil, fmt.Errorf("load face models: %w", err)
	}
	return eng, nil
}

// expandInputs turns IMAGE|DIR arguments into image paths: files as given (whatever their
// extension, so a mistaken or missing file gets its own clear error), directories walked recursively for
// files with a supported image extension, in lexical order.
func expandInputs(args []string) ([]string, error) {
	var paths []string
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil || !st.IsDir() { // a missing file fails on its own, the others go on
			paths = append(paths, arg)
			continue
		}
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != arg && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") && slices.Contains(imageio.Extensions, strings.ToLower(filepath.Ext(p))) {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no image files (%s) in %s", strings.Join(imageio.Extensions, " "), strings.Join(args, ", "))
	}
	return paths, nil
}

// forEachOrdered runs work on every item with n workers and hands the results to emit in the
// order of items (so output is the same whatever --cpus), as soon as each prefix is complete.
// It stops starting new items when ctx is cancelled.
func forEachOrdered[T, R any](ctx context.Context, n int, items []T, work func(context.Context, T) R, emit func(T, R)) {
	n = max(1, min(n, len(items)))
	results := make([]R, len(items))
	done := make([]bool, len(items))
	var (
		mu   sync.Mutex
		next int // next item to emit
		wg   sync.WaitGroup
	)
	jobs := make(chan int)
	for range n {
		wg.Go(func() {
			for i := range jobs {
				r := work(ctx, items[i])
				mu.Lock()
				results[i], done[i] = r, true
				for next < len(items) && done[next] {
					emit(items[next], results[next])
					var zero R
					results[next] = zero // let the garbage collector have it
					next++
				}
				mu.Unlock()
			}
		})
	}
	for i := range items {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// newProgress returns a progress bar on stderr for total items, or nil when stderr is not a
// terminal (scripts and logs get no bar) or there is only one item.
func newProgress(stderr io.Writer, total int, what string) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || total < 2 || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
}

// warner prints warnings on stderr, clearing the progress bar line first.
type warner struct {
	mu     sync.Mutex
	stderr io.Writer
	bar    *progressbar.ProgressBar
}

func (w *warner) printf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bar != nil {
		_ = w.bar.Clear()
	}
	fmt.Fprintf(w.stderr, format+"\n", args...)
}

// clear removes the bar before results are printed on a terminal stdout.
func (w *warner) clear() {
	if w.bar != nil {
		w.mu.Lock()
		_ = w.bar.Clear()
		w.mu.Unlock()
	}
}

// step advances the bar by one item (drawing it again).
func (w *warner) step() {
	if w.bar != nil {
		w.mu.Lock()
		_ = w.bar.Add(1)
		w.mu.Unlock()
	}
}

// input is one occurrence of an image among the arguments: a file named twice is two inputs,
// each with its own output lines and its own annotated copy.
type input struct {
	path      string
	annotated string // where its --annotate copy goes; "" without --annotate
}

// planInputs pairs every path with the name of its annotated copy under dir (none when dir is
// ""), planned up front in input order so that the names do not depend on which worker finishes
// first: the base name with .jpg, then "-2", "-3"… for each later input of the same name.
func planInputs(dir string, paths []string) ([]input, error) {
	inputs := make([]input, len(paths))
	for i, p := range paths {
		inputs[i].path = p
	}
	if dir == "" {
		return inputs, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--annotate: %w", err)
	}
	used := map[string]bool{}
	for i, in := range inputs {
		stem := strings.TrimSuffix(filepath.Base(in.path), filepath.Ext(in.path))
		name := stem + ".jpg"
		for k := 2; used[name]; k++ {
			name = fmt.Sprintf("%s-%d.jpg", stem, k)
		}
		used[name] = true
		inputs[i].annotated = filepath.Join(dir, name)
	}
	return inputs, nil
}

// annotate writes the input's annotated copy, when --annotate asks for one.
func (in input) annotate(img image.Image, labels []annotate.Label) error {
	if in.annotated == "" {
		return nil
	}
	return annotate.WriteJPEG(in.annotated, annotate.Draw(img, labels))
}

// faceRun is what detect and identify set up alike from their flags and arguments.
type faceRun struct {
	flags  *engineFlags
	opts   face.Options // the engine options the flags select
	inputs []input
}

// newFaceRun validates the flags, expands the arguments into inputs and plans their annotated
// copies (creating the --annotate directory): everything that can fail before the models load.
func newFaceRun(flags *engineFlags, args []string) (*faceRun, error) {
	opts, err := flags.options()
	if err != nil {
		return nil, err
	}
	paths, err := expandInputs(args)
	if err != nil {
		return nil, err
	}
	inputs, err := planInputs(flags.annotateDir, paths)
	if err != nil {
		return nil, err
	}
	return &faceRun{flags: flags, opts: opts, inputs: inputs}, nil
}

// decode reads an input within --max-pixels.
func (r *faceRun) decode(in input) (image.Image, imageio.Info, error) {
	return imageio.DecodeFile(in.path, r.flags.limits())
}

// eachInput runs work on every input of r, --cpus at a time, and emit on the results in input
// order, with the warnings' progress bar kept out of the way. emit says whether the input
// failed and whether faces were found in it; the error is the command's exit status.
func eachInput[R any](ctx context.Context, r *faceRun, w *warner, work func(context.Context, input) R, emit func(input, R) (failed, found bool)) error {
	var failed, withFaces int
	forEachOrdered(ctx, r.flags.workers(), r.inputs, work, func(in input, res R) {
		w.clear()
		defer w.step()
		f, found := emit(in, res)
		if f {
			failed++
		}
		if found {
			withFaces++
		}
	})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return exitStatus(failed, withFaces)
}

// boxRect converts an engine box to whole pixels for drawing.
func boxRect(b face.Box) image.Rectangle {
	return image.Rect(int(b.X+0.5), int(b.Y+0.5), int(b.X+b.W+0.5), int(b.Y+b.H+0.5))
}

// exitStatus maps a run's outcome to the documented exit codes: any failed input → ExitError;
// else no face in any input → ExitNotFound.
func exitStatus(failed, withFaces int) error {
	switch {
	case failed > 0:
		return exitError{ExitError}
	case withFaces == 0:
		return exitError{ExitNotFound}
	}
	return nil
}

// isCancel reports whether err only says the run was interrupted.
func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// usageArgs makes a cobra argument check's complaint a usage error (exit status 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// describeWhole describes the whole image as one tightly cropped face.
func describeWhole(ctx context.Context, eng *face.Engine, img image.Image) (face.Face, error) {
	faces, err := eng.Analyze(ctx, img, face.Options{WholeImage: true})
	if err != nil {
		return face.Face{}, err
	}
	if len(faces) != 1 {
		return face.Face{}, fmt.Errorf("whole-image face: the engine returned %d faces", len(faces))
	}
	return faces[0], nil
}
