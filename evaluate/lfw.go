package evaluate

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
)

// LFWReport is the outcome of the verification protocol on a pairs file.
type LFWReport struct {
	Pairs, Images int
	// NoFace counts images in which no face was detected at all; Missed those without a face
	// containing the image centre (NoFace included). A pair with a missed image is wrong.
	NoFace, Missed int
	MissedImages   []string // names of the missed images, sorted
	PairsMissed    int      // pairs with at least one missed image

	Folds         []FoldResult
	KFoldAccuracy float64 // mean over the folds, each with the threshold of the other folds
	KFoldStd      float64
	BestThreshold float64 // the most accurate threshold over all pairs (the calibrated one)
	BestAccuracy  float64
	AtThreshold   Rates   // at Options.Threshold
	AtBest        Rates   // at BestThreshold
	TAR1, TAR01   Rates   // at FAR ≤ 1 % and ≤ 0.1 %
	FoundAccuracy float64 // accuracy at Options.Threshold on the pairs with both faces found
	// FoundKFold is the 10-fold accuracy on the pairs with both faces found only: what the
	// recognition does where detection did its part.
	FoundKFold    float64
	Stability     *StabilityReport
	Elapsed       time.Duration
	ImagesPerSec  float64
	Detector      string
	Alignment     string
	DescriptorVer string
}

// RunLFW analyses every image of the pairs once (under imagesDir, LFW's layout), scores the
// pairs and, with Options.Stability, measures descriptor stability on a sample of the images.
// It returns one report per alignment (Options.Alignments).
func RunLFW(ctx context.Context, opts Options, imagesDir string, pairs []Pair) ([]*LFWReport, error) {
	if err := opts.withDefaults(); err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("evaluate: no pairs")
	}
	start := time.Now()
	seen := map[Image]int{}
	var images []Image
	for _, p := range pairs {
		for _, im := range []Image{p.A, p.B} {
			if _, ok := seen[im]; !ok {
				seen[im] = -1
				images = append(images, im)
			}
		}
	}
	slices.SortFunc(images, func(a, b Image) int {
		if c := strings.Compare(a.Person, b.Person); c != 0 {
			return c
		}
		return a.Num - b.Num
	})
	for i, im := range images {
		seen[im] = i
	}

	results := make([]centred, len(images))
	opts.Progress.Stage("lfw: faces", len(images))
	err := forEach(ctx, len(images), opts.Workers, opts.Progress, func(ctx context.Context, i int) error {
		path := images[i].Path(imagesDir)
		img, _, err := imageio.DecodeFile(path, opts.Limits)
		if err != nil {
			return fmt.Errorf("LFW image %s: %w", images[i], err)
		}
		r, err := opts.analyzeCentre(ctx, img)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		results[i] = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	var reports []*LFWReport
	for k, a := range opts.Alignments {
		rep := &LFWReport{
			Pairs: len(pairs), Images: len(images),
			Detector: opts.Face.Detector.String(), Alignment: a.String(), DescriptorVer: a.DescriptorVersion(),
			Elapsed: elapsed, ImagesPerSec: float64(len(images)) / elapsed.Seconds(),
		}
		for i, r := range results {
			if r.Faces == 0 {
				rep.NoFace++
			}
			if !r.Found {
				rep.Missed++
				rep.MissedImages = append(rep.MissedImages, images[i].String())
			}
		}
		scores := make([]Score, len(pairs))
		for i, p := range pairs {
			a, b := results[seen[p.A]], results[seen[p.B]]
			s := Score{Same: p.Same, Fold: p.Fold, Found: a.Found && b.Found}
			if s.Found {
				s.Distance = float64(face.Distance(a.Descriptors[k], b.Descriptors[k]))
			} else {
				rep.PairsMissed++
			}
			scores[i] = s
		}
		rep.fill(scores, opts.Threshold)
		reports = append(reports, rep)
	}

	if opts.Stability > 0 {
		var sample []string
		var base [][]face.Descriptor
		for _, i := range spread(len(images), opts.Stability) {
			if results[i].Found {
				sample = append(sample, images[i].Path(imagesDir))
				base = append(base, results[i].Descriptors)
			}
		}
		st, err := measureStability(ctx, &opts, sample, base)
		if err != nil {
			return nil, err
		}
		for k, rep := range reports {
			rep.Stability = st[k]
		}
	}
	return reports, nil
}

func (rep *LFWReport) fill(scores []Score, threshold float64) {
	rep.Folds, rep.KFoldAccuracy, rep.KFoldStd, _ = KFold(scores)
	rep.BestThreshold, rep.BestAccuracy = BestThreshold(scores)
	rep.AtThreshold = RatesAt(scores, threshold)
	rep.AtBest = RatesAt(scores, rep.BestThreshold)
	rep.TAR1 = TARAtFAR(scores, 0.01)
	rep.TAR01 = TARAtFAR(scores, 0.001)
	var found []Score
	for _, s := range scores {
		if s.Found {
			found = append(found, s)
		}
	}
	rep.FoundAccuracy = Accuracy(found, threshold)
	_, rep.FoundKFold, _, _ = KFold(found)
}

// spread picks up to k indices of [0, n) evenly spaced.
func spread(n, k int) []int {
	if k >= n {
		k = n
	}
	out := make([]int, 0, k)
	for i := range k {
		out = append(out, i*n/k)
	}
	return out
}

// WriteText prints the report for people.
func (rep *LFWReport) WriteText(w io.Writer) error {
	pct := func(x float64) string { return fmt.Sprintf("%.2f %%", 100*x) }
	var b strings.Builder
	fmt.Fprintf(&b, "LFW verification: %d pairs, %d images (detector %s, alignment %s, descriptors %s)\n",
		rep.Pairs, rep.Images, rep.Detector, rep.Alignment, rep.DescriptorVer)
	fmt.Fprintf(&b, "  faces missed:        %d images (%s) without a face at the centre, %d of them without any face; %d pairs affected, each counted wrong\n",
		rep.Missed, pct(float64(rep.Missed)/float64(rep.Images)), rep.NoFace, rep.PairsMissed)
	fmt.Fprintf(&b, "  %d-fold accuracy:    %s ± %s (threshold chosen on the other folds: %s)\n",
		len(rep.Folds), pct(rep.KFoldAccuracy), pct(rep.KFoldStd), foldThresholds(rep.Folds))
	fmt.Fprintf(&b, "  found pairs only:    k-fold accuracy %s, at threshold %.3f %s (the %d pairs with both faces found)\n",
		pct(rep.FoundKFold), rep.AtThreshold.Threshold, pct(rep.FoundAccuracy), rep.Pairs-rep.PairsMissed)
	fmt.Fprintf(&b, "  at threshold %.3f:   accuracy %s, FAR %s, FRR %s\n",
		rep.AtThreshold.Threshold, pct(rep.AtThreshold.Accuracy), pct(rep.AtThreshold.FAR), pct(rep.AtThreshold.FRR))
	fmt.Fprintf(&b, "  best threshold %.3f: accuracy %s, FAR %s, FRR %s\n",
		rep.BestThreshold, pct(rep.AtBest.Accuracy), pct(rep.AtBest.FAR), pct(rep.AtBest.FRR))
	fmt.Fprintf(&b, "  TAR at FAR 1 %%:      %s (threshold %.3f, FAR %s)\n", pct(1-rep.TAR1.FRR), rep.TAR1.Threshold, pct(rep.TAR1.FAR))
	fmt.Fprintf(&b, "  TAR at FAR 0.1 %%:    %s (threshold %.3f, FAR %s)\n", pct(1-rep.TAR01.FRR), rep.TAR01.Threshold, pct(rep.TAR01.FAR))
	if s := rep.Stability; s != nil {
		s.write(&b)
	}
	fmt.Fprintf(&b, "  took %s (%.1f images/s)\n", rep.Elapsed.Round(time.Second), rep.ImagesPerSec)
	_, err := io.WriteString(w, b.String())
	return err
}

func foldThresholds(folds []FoldResult) string {
	ts := make([]float64, len(folds))
	for i, f := range folds {
		ts[i] = f.Threshold
	}
	if len(ts) == 0 {
		return "none"
	}
	return fmt.Sprintf("%.3f–%.3f", slices.Min(ts), slices.Max(ts))
}
