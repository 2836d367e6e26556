package processor_test

import (
	"context"
	"fmt"
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
// database (all in this process, so cpu-ms/image includes nsqd, SQLite and gRPC). Run: go test -run '^$' -bench 'Throughput' -benchtime 4x ./processor/
var demoPhotos = []string{"sample1.jpg", "sample2.jpg", "sample3.jpg", "sample4.jpg", "sample5.jpg", "sample6.jpg"}

const copiesPerRun = 2 // each photo twice per iteration: 12 images

func BenchmarkEngineThroughput(b *testing.B) {
	eng := testEngine(b)
	dir := testutil.DemoDir(b)
	b.ResetTimer()
	start, cpu := time.Now(), testutil.CPUTime()
	n := 0
	for i := 0; i < b.N; i++ {
		work := make(chan string)
		var wg sync.WaitGroup
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p := range work {
					// Decoding is part of the engine's work on a photo, as in the pipeline.
					img, _, err := imageio.DecodeFile(filepath.Join(dir, p), imageio.Limits{})
					if err != nil {
						b.Error(err)
						continue
					}
					if _, err := eng.Analyze(context.Background(), img, face.Options{}); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for c := 0; c < copiesPerRun; c++ {
			for _, p := range demoPhotos {
				work <- p
				n++
			}
		}
		close(work)
		wg.Wait()
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "images/s")
	b.ReportMetric(float64((testutil.CPUTime()-cpu).Milliseconds())/float64(n), "cpu-ms/image")
}

func BenchmarkPipelineThroughput(b *testing.B) {
	s := newStack(b, stackOptions{})
	for _, p := range demoPhotos {
		s.linkDemo(p)
	}
	b.ResetTimer()
	start, cpu := time.Now(), testutil.CPUTime()
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
	b.ReportMetric(float64((testutil.CPUTime()-cpu).Milliseconds())/float64(n), "cpu-ms/image")
}
