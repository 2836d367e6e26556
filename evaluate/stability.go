package evaluate

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"strings"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
)

// Perturbation changes a photo without changing the face in it.
type Perturbation struct {
	Name  string
	Apply func(image.Image) (image.Image, error)
}

// Perturbations are the changes stability is measured under: the photo saved again as a JPEG
// of quality 90, and the frame moved by one and by two pixels (the first rows and columns cut
// off, so no pixel is invented).
var Perturbations = []Perturbation{
	{"jpeg-q90", reencodeJPEG(90)},
	{"shift-1px", shift(1, 1)},
	{"shift-2px", shift(2, 2)},
}

func reencodeJPEG(quality int) func(image.Image) (image.Image, error) {
	return func(img image.Image) (image.Image, error) {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
			return nil, fmt.Errorf("encode JPEG: %w", err)
		}
		out, _, err := imageio.Decode(&buf, imageio.Limits{})
		return out, err
	}
}

func shift(dx, dy int) func(image.Image) (image.Image, error) {
	return func(img image.Image) (image.Image, error) {
		s, ok := img.(interface {
			SubImage(image.Rectangle) image.Image
		})
		b := img.Bounds()
		if !ok || b.Dx() <= dx || b.Dy() <= dy {
			return nil, fmt.Errorf("cannot shift a %T of %d×%d", img, b.Dx(), b.Dy())
		}
		return s.SubImage(image.Rect(b.Min.X+dx, b.Min.Y+dy, b.Max.X, b.Max.Y)), nil
	}
}

// StabilityReport holds how far descriptors moved (L2) under each perturbation.
type StabilityReport struct {
	Images   int                  // images measured (with a face at the centre)
	Lost     map[string]int       // perturbation → images whose centre face was no longer found
	Moves    map[string][]float64 // perturbation → distances
	All      []float64
	Median   float64
	P99      float64
	PerPert  map[string][2]float64 // perturbation → median, p99
	Max      float64
	Perturbs []string
}

// measureStability describes each image of paths under every perturbation and compares the
// centre face's descriptors with base (the unchanged photo's, one per Options.Alignments). It
// returns one report per alignment.
func measureStability(ctx context.Context, opts *Options, paths []string, base [][]face.Descriptor) ([]*StabilityReport, error) {
	type moved struct {
		d     [][]float64 // [perturbation][alignment]
		found []bool      // [perturbation]
	}
	res := make([]moved, len(paths))
	opts.Progress.Stage("lfw: stability", len(paths))
	err := forEach(ctx, len(paths), opts.Workers, opts.Progress, func(ctx context.Context, i int) error {
		img, _, err := imageio.DecodeFile(paths[i], opts.Limits)
		if err != nil {
			return err
		}
		res[i] = moved{d: make([][]float64, len(Perturbations)), found: make([]bool, len(Perturbations))}
		for k, p := range Perturbations {
			changed, err := p.Apply(img)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", paths[i], p.Name, err)
			}
			c, err := opts.analyzeCentre(ctx, changed)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", paths[i], p.Name, err)
			}
			if c.Found {
				res[i].found[k] = true
				for a := range c.Descriptors {
					res[i].d[k] = append(res[i].d[k], float64(face.Distance(base[i][a], c.Descriptors[a])))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var reports []*StabilityReport
	for a := range opts.Alignments {
		st := &StabilityReport{Images: len(paths), Lost: map[string]int{}, Moves: map[string][]float64{}, PerPert: map[string][2]float64{}}
		for k, p := range Perturbations {
			st.Perturbs = append(st.Perturbs, p.Name)
			var ds []float64
			for _, r := range res {
				if !r.found[k] {
					st.Lost[p.Name]++
					continue
				}
				ds = append(ds, r.d[k][a])
			}
			st.Moves[p.Name] = ds
			st.All = append(st.All, ds...)
			st.PerPert[p.Name] = [2]float64{Percentile(ds, 50), Percentile(ds, 99)}
		}
		st.Median, st.P99, st.Max = Percentile(st.All, 50), Percentile(st.All, 99), Percentile(st.All, 100)
		reports = append(reports, st)
	}
	return reports, nil
}

func (st *StabilityReport) write(w io.Writer) {
	var parts []string
	for _, name := range st.Perturbs {
		v := st.PerPert[name]
		s := fmt.Sprintf("%s %.4f / %.4f", name, v[0], v[1])
		if n := st.Lost[name]; n > 0 {
			s += fmt.Sprintf(" (face lost in %d)", n)
		}
		parts = append(parts, s)
	}
	fmt.Fprintf(w, "  stability (%d images): descriptor L2 change median %.4f, p99 %.4f, max %.4f; median / p99 by change: %s\n",
		st.Images, st.Median, st.P99, st.Max, strings.Join(parts, "; "))
}
