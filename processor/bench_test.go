package processor_test

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/facecluster/facecluster/face"
	"github.com/facecluster/facecluster/face/imageio"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/store"
)

// The pipeline's goal: end-to-end processing throughput within 10 % of the engine's own images
// per second. Both benchmarks run the six npm demo photos (3–5 faces each) with two workers (the
// processor's default concurrency on this 2-core machine) and report images/s; the pipeline one
// goes through SQLite, the embedded nsqd and nsqlookupd, gRPC to the recognizer and back to the
// database. Run: go test -run '^$' -bench 'Throughput' -benchtime 4x ./processor/
var demoPhotos = []string{"sample1.jpg", "sample2.jpg", "sample3.jpg", "sample4.jpg", "sample5.jpg", "sample6.jpg"}

const copiesPerRun = 2 // each photo twice per iteration: 12 images

func BenchmarkEngineThroughput(b *testing.B) {
	eng := testEngine(b)
	var imgs []image.Image
	for _, p := range demoPhotos {
		img, _, err := imageio.DecodeFile(filepath.Join(testutil.DemoDir(b), p), imageio.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for i := 0; i < b.N; i++ {
		work := make(chan image.Image)
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for img := range work {
					if _, err := eng.Analyze(context.Background(), img, face.Options{}); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for c := 0; c < copiesPerRun; c++ {
			for _, img := range imgs {
				work <- img
				n++
			}
		}
		close(work)
		wg.Wait()
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "images/s")
}

func BenchmarkPipelineThroughput(b *testing.B) {
	s := newStack(b, stackOptions{})
	for _, p := range demoPhotos {
		s.linkDemo(p)
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for i := 0; i < b.N; i++ {
		var paths []string
		for c := 0; c < copiesPerRun; c++ {
			for _, p := range demoPhotos {
				// A distinct path per submission (a symlink inside the root): each is a new image.
				name := fmt.Sprintf("run%d-copy%d-%s", i, c, p)
				s.link(p, name)
				paths = append(paths, name)
			}
		}
		ids := s.submit(paths...)
		for _, id := range ids {
			if img := s.waitFinal(id, 5*time.Minute); img.Status != store.StatusUnidentified {
				b.Fatalf("image %d ended %s (%q)", id, img.Status, img.LastError)
			}
		}
		n += len(ids)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "images/s")
}
