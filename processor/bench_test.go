package processor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
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
	// Every photo of every iteration is queued before the clock starts and two workers drain
	// the queue: the steady state of a processor with work waiting, as in the pipeline below.
	work := make(chan string, b.N*copiesPerRun*len(demoPhotos))
	for range b.N * copiesPerRun {
		for _, p := range demoPhotos {
			work <- p
		}
	}
	close(work)
	n := len(work)
	b.ResetTimer()
	start, cpu := time.Now(), testutil.CPUTime()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
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
		})
	}
	wg.Wait()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "images/s")
	b.ReportMetric(float64((testutil.CPUTime()-cpu).Milliseconds())/float64(n), "cpu-ms/image")
}

func BenchmarkPipelineThroughput(b *testing.B) {
	s := newStack(b, stackOptions{})
	for _, p := range demoPhotos {
		s.linkDemo(p)
	}
	var paths []string
	for i := range b.N {
		for c := range copiesPerRun {
			for _, p := range demoPhotos {
				// A distinct path per submission (a symlink inside the root): each is a new image.
				name := fmt.Sprintf("run%d-copy%d-%s", i, c, p)
				s.link(p, name)
				paths = append(paths, name)
			}
		}
	}
	ctx := context.Background()
	b.ResetTimer()
	start, cpu := time.Now(), testutil.CPUTime()
	// All images are submitted at once and the clock stops when the last one is final: the
	// pipeline's steady state with work waiting in the queue, polled cheaply (one count per 10 ms).
	ids := s.submit(paths...)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		counts, err := s.st.CountByStatus(ctx)
		if err != nil {
			b.Fatal(err)
		}
		final := int64(0)
		for st, c := range counts {
			if st.Final() {
				final += c
			}
		}
		if final >= int64(len(ids)) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d images final after 5 minutes", final, len(ids))
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed, used := time.Since(start), testutil.CPUTime()-cpu
	b.StopTimer()
	for _, id := range ids {
		if img := s.image(id); img.Status != store.StatusUnidentified {
			b.Fatalf("image %d ended %s (%q)", id, img.Status, img.LastError)
		}
	}
	b.ReportMetric(float64(len(ids))/elapsed.Seconds(), "images/s")
	b.ReportMetric(float64(used.Milliseconds())/float64(len(ids)), "cpu-ms/image")
}
