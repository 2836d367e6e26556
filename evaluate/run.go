package evaluate

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
)

// Options configure an evaluation run.
type Options struct {
	Engine *face.Engine // with the chosen detector, the landmark and the recognition nets
	Face   face.Options // detector, alignment, … as the product would run them
	// Alignments, when set, are compared on the same detections and landmarks: each face is
	// described once with each (Face.Alignment is ignored) and each gets its own report.
	Alignments []face.Alignment
	Limits     imageio.Limits
	// Workers is how many images are analysed at once (0 = 1); each analysis runs on one
	// goroutine, which uses the cores better than splitting one image.
	Workers int
	// Threshold is the match threshold whose accuracy and error rates are reported
	// (0 = face.DefaultThreshold).
	Threshold float64
	// Stability is how many images (spread evenly over the data set) are re-encoded and
	// shifted to measure how much their descriptors move; 0 = none.
	Stability int
	// Progress is told about each stage and each image done; nil = silent.
	Progress Progress
}

// Progress follows a long evaluation (the CLI draws a bar).
type Progress interface {
	Stage(name string, total int) // a new stage of total items begins
	Step()                        // one item of the stage is done
}

func (o *Options) withDefaults() error {
	if o.Engine == nil {
		return errors.New("evaluate: no face engine")
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Threshold == 0 {
		o.Threshold = float64(face.DefaultThreshold)
	}
	if o.Threshold < 0 || o.Stability < 0 {
		return fmt.Errorf("evaluate: negative threshold %g or stability sample %d", o.Threshold, o.Stability)
	}
	if o.Progress == nil {
		o.Progress = silent{}
	}
	if len(o.Alignments) == 0 {
		o.Alignments = []face.Alignment{o.Face.Alignment}
	}
	o.Face.Alignment = o.Alignments[0]
	return nil
}

type silent struct{}

func (silent) Stage(string, int) {}
func (silent) Step()             {}

// centred is what the pipeline makes of one labelled photo: the face at its centre (LFW's
// photos are centred on the labelled person).
type centred struct {
	Faces       int // faces detected anywhere
	Found       bool
	Descriptors []face.Descriptor // one per Options.Alignments
}

// centreFace picks, among the faces whose box contains the image centre, the one whose box
// centre is nearest to it.
func centreFace(faces []face.Face, w, h int) (face.Face, bool) {
	cx, cy := float64(w)/2, float64(h)/2
	best, found := face.Face{}, false
	bestD := 0.0
	for _, f := range faces {
		b := f.Box
		if cx < b.X || cx > b.X+b.W || cy < b.Y || cy > b.Y+b.H {
			continue
		}
		dx, dy := b.X+b.W/2-cx, b.Y+b.H/2-cy
		if d := dx*dx + dy*dy; !found || d < bestD {
			best, bestD, found = f, d, true
		}
	}
	return best, found
}

// analyzeCentre runs the pipeline on img and keeps its centre face.
func (o *Options) analyzeCentre(ctx context.Context, img image.Image) (centred, error) {
	faces, err := o.Engine.Analyze(ctx, img, o.Face)
	if err != nil {
		return centred{}, err
	}
	b := img.Bounds()
	f, ok := centreFace(faces, b.Dx(), b.Dy())
	c := centred{Faces: len(faces), Found: ok}
	if !ok {
		return c, nil
	}
	c.Descriptors = append(c.Descriptors, f.Descriptor)
	for _, a := range o.Alignments[1:] {
		f.Alignment = a
		d, err := o.Engine.Describe(ctx, img, f)
		if err != nil {
			return centred{}, fmt.Errorf("describe with alignment %s: %w", a, err)
		}
		c.Descriptors = append(c.Descriptors, d)
	}
	return c, nil
}

// forEach calls work(i) for i in [0, n) on workers goroutines, stepping the progress after
// each, and returns the first error (after which no new item starts).
func forEach(ctx context.Context, n, workers int, p Progress, work func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for i := range jobs {
				if err := work(ctx, i); err != nil {
					cancel(err)
					continue
				}
				p.Step()
			}
		})
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}
