package processor_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/processor"
	"github.com/facecluster/facecluster/store"
)

var drivers = []string{"sqlite", "mysql"}

// forEachDriver runs one test body as a subtest per SQL driver, so every integration test
// checks SQLite and real MySQL alike without duplicating its body.
func forEachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	t.Helper()
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) { test(t, driver) })
	}
}

func TestImageEndsProcessedWithTheRightPerson(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := newStack(t, stackOptions{driver: driver})
			known := t.TempDir()
			carol := knownCrop(t, known, "sample1.jpg", "carol", rightmost)
			if rep := s.enrol(known); rep.Enrolled != 1 {
				t.Fatalf("enrolment report %+v, want 1 enrolled", rep)
			}
			waitFor(t, "the recognizer to load the enrolment", func() bool { return s.rec.server.GalleryVersion() > 0 })

			id := s.submit(s.linkDemo("sample1.jpg"))[0]
			img := s.waitFinal(id, 60*time.Second)
			if img.Status != store.StatusProcessed {
				t.Fatalf("status %s (%q), want processed", img.Status, img.LastError)
			}
			if img.Attempts != 1 {
				t.Errorf("attempts %d, want 1", img.Attempts)
			}
			// A path image gets its content hash from the bytes the recognizer read.
			photo, _ := os.ReadFile(filepath.Join(testutil.DemoDir(t), "sample1.jpg"))
			if want := fmt.Sprintf("sha256:%x", sha256.Sum256(photo)); img.ContentHash != want {
				t.Errorf("content hash %q, want %q", img.ContentHash, want)
			}
			if img.Width != 1920 || img.Height != 1280 {
				t.Errorf("size %d×%d recorded", img.Width, img.Height)
			}
			if len(img.Faces) != 3 {
				t.Fatalf("%d faces, want the 3 faces of sample1.jpg", len(img.Faces))
			}
			var found []store.Face
			for _, f := range img.Faces {
				if f.Known() {
					found = append(found, f)
				} else if !math.IsNaN(f.Distance) && f.Distance < 0.6 {
					t.Errorf("unknown face at %v has distance %.3f below the threshold", f.Box, f.Distance)
				}
				if len(f.Descriptor) != 128 || len(f.Landmarks) != 68 || f.Model != face.ModelVersion {
					t.Errorf("face at %v: %d descriptor values, %d landmarks, model %q (want the recognizer's %q)", f.Box, len(f.Descriptor), len(f.Landmarks), f.Model, face.ModelVersion)
				}
			}
			if len(found) != 1 || found[0].Person != "carol" {
				t.Fatalf("known faces %+v, want exactly carol", found)
			}
			if d := math.Abs(found[0].Box.X-carol.X) + math.Abs(found[0].Box.Y-carol.Y); d > 4 {
				t.Errorf("carol found at %+v, enrolled from the face at %+v", found[0].Box, carol)
			}
			if found[0].Distance >= 0.6 || found[0].Distance <= 0 {
				t.Errorf("carol's distance %.3f, want in (0, 0.6)", found[0].Distance)
			}
		})
	}
}

// TestTheRecognizersThresholdAppliesUnlessTheProcessorSetsOne: the recognizer owns matching. A
// processor left at its default sends no threshold, so the recognizer's own applies — here one
// so strict that carol, enrolled from a crop of this very photo, is unknown; a processor given
// a threshold explicitly overrides it for its images.
func TestTheRecognizersThresholdAppliesUnlessTheProcessorSetsOne(t *testing.T) {
	const strict = 0.01 // below any two photos of a face, even a crop of the same one
	for _, tt := range []struct {
		name      string
		processor float32
		want      store.Status
	}{
		{"the recognizer's", 0, store.StatusUnidentified},
		{"the processor's, given", face.DefaultThreshold, store.StatusProcessed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, stackOptions{recognizerThreshold: strict, matchThreshold: tt.processor})
			known := t.TempDir()
			knownCrop(t, known, "sample1.jpg", "carol", rightmost)
			if rep := s.enrol(known); rep.Enrolled != 1 {
				t.Fatalf("enrolment report %+v, want 1 enrolled", rep)
			}
			waitFor(t, "the recognizer to load the enrolment", func() bool { return s.rec.server.GalleryVersion() > 0 })
			img := s.waitFinal(s.submit(s.linkDemo("sample1.jpg"))[0], 60*time.Second)
			var names []string
			for _, f := range img.Faces {
				if f.Known() {
					names = append(names, f.Person)
				}
			}
			if img.Status != tt.want {
				t.Fatalf("status %s (known %v, %q), want %s", img.Status, names, img.LastError, tt.want)
			}
		})
	}
}

func TestEveryFinalStatus(t *testing.T) { forEachDriver(t, testEveryFinalStatus) }

func testEveryFinalStatus(t *testing.T, driver string) {
	s := newStack(t, stackOptions{driver: driver})
	s.writeFile("corrupt.jpg", []byte("\xff\xd8\xff\xe0 this is not really a JPEG"))
	tests := []struct {
		path      string
		want      store.Status
		reasonHas string
		wantFaces int
		permanent bool
	}{
		{s.linkDemo("sample2.jpg"), store.StatusUnidentified, "", 3, false},
		{s.blankPNG("empty-corridor.png"), store.StatusNoFaces, "", 0, false},
		{"corrupt.jpg", store.StatusFailed, "corrupt", 0, true},
		{"no-such-photo.jpg", store.StatusFailed, "does not exist", 0, true},
		{"../../../../../../etc/hostname", store.StatusFailed, "outside the image root", 0, true},
	}
	var paths []string
	for _, tt := range tests {
		paths = append(paths, tt.path)
	}
	ids := s.submit(paths...)
	for i, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			img := s.waitFinal(ids[i], 60*time.Second)
			if img.Status != tt.want {
				t.Fatalf("status %s (%q), want %s", img.Status, img.LastError, tt.want)
			}
			if !strings.Contains(img.LastError, tt.reasonHas) {
				t.Errorf("reason %q, want it to mention %q", img.LastError, tt.reasonHas)
			}
			if len(img.Faces) != tt.wantFaces {
				t.Errorf("%d faces, want %d", len(img.Faces), tt.wantFaces)
			}
			if tt.permanent && img.Attempts != 1 {
				t.Errorf("a permanent failure took %d attempts, want 1", img.Attempts)
			}
		})
	}
	if s.brk.State() != breaker.Closed {
		t.Fatal("bad images opened the recognizer's circuit breaker")
	}
}

func TestMessageDeliveredTwiceLeavesOneSetOfFaces(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := newStack(t, stackOptions{driver: driver})
			id := s.submit(s.linkDemo("sample3.jpg"))[0]
			// Two more deliveries of the same id while the first may be in flight.
			if err := s.producer.Publish(context.Background(), id, id); err != nil {
				t.Fatal(err)
			}
			img := s.waitFinal(id, 60*time.Second)
			waitFor(t, "every delivery to be handled", func() bool { return s.nsqd.Depth() == 0 && s.handled() >= 3 })
			img = s.image(id)
			if img.Attempts != 1 {
				t.Errorf("attempts %d, want 1: the duplicates must not be processed", img.Attempts)
			}
			if len(img.Faces) != 3 {
				t.Fatalf("%d faces, want one set of 3", len(img.Faces))
			}
			seen := map[int]bool{}
			for _, f := range img.Faces {
				if seen[f.Idx] {
					t.Fatalf("face index %d recorded twice", f.Idx)
				}
				seen[f.Idx] = true
			}
		})
	}
}

func TestTransientFailuresAreRetriedUpToTheAttemptsLimit(t *testing.T) {
	forEachDriver(t, testTransientFailuresAreRetriedUpToTheAttemptsLimit)
}

func testTransientFailuresAreRetriedUpToTheAttemptsLimit(t *testing.T, driver string) {
	// The breaker never opens here, so every delivery reaches the (stopped) recognizer.
	s := newStack(t, stackOptions{driver: driver, maxAttempts: 3, breakerThreshold: 1000, retryDelay: 20 * time.Millisecond})
	s.rec.stop()
	id := s.submit(s.blankPNG("lobby.png"))[0]
	img := s.waitFinal(id, 30*time.Second)
	if img.Status != store.StatusFailed || img.Attempts != 3 {
		t.Fatalf("status %s after %d attempts, want failed after 3", img.Status, img.Attempts)
	}
	if !strings.Contains(img.LastError, "Unavailable") {
		t.Fatalf("reason %q, want it to say the recognizer was unavailable", img.LastError)
	}
}

func TestBreakerOpensProbesBacksOffAndClosesWhenTheRecognizerReturns(t *testing.T) {
	forEachDriver(t, testBreakerOpensProbesBacksOffAndClosesWhenTheRecognizerReturns)
}

func testBreakerOpensProbesBacksOffAndClosesWhenTheRecognizerReturns(t *testing.T, driver string) {
	s := newStack(t, stackOptions{driver: driver, maxAttempts: 5, retryDelay: 300 * time.Millisecond})
	addr := s.rec.addr
	s.rec.stop()
	var paths []string
	for _, n := range []string{"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"} {
		paths = append(paths, s.blankPNG(n))
	}
	ids := s.submit(paths...)

	// Five consecutive failures open it; failed probes keep it open.
	expect := func(want breaker.State) {
		t.Helper()
		select {
		case got := <-s.breakerTo:
			if got != want {
				t.Fatalf("breaker went %s, want %s", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("breaker did not go %s", want)
		}
	}
	expect(breaker.Open)
	for i := 0; i < 2; i++ {
		expect(breaker.Probing)
		expect(breaker.Open)
	}
	if cd := s.brk.CoolDown(); cd <= 100*time.Millisecond {
		t.Fatalf("cool-down %s after failed probes, want it doubled from 100ms", cd)
	}
	// While open, images wait: none has failed, none has spent its attempts.
	for _, id := range ids {
		if img := s.image(id); img.Status == store.StatusFailed || img.Attempts >= 5 {
			t.Fatalf("image %d is %s after %d attempts while the breaker is open", id, img.Status, img.Attempts)
		}
	}

	s.rec = startRecognizer(t, s.st, s.root, addr)
	expect(breaker.Probing)
	expect(breaker.Closed)
	for _, id := range ids {
		if img := s.waitFinal(id, 60*time.Second); img.Status != store.StatusNoFaces {
			t.Fatalf("image %d ended %s (%q), want no_faces", id, img.Status, img.LastError)
		}
	}
}

func TestProcessorKilledMidImageIsRecoveredAfterItsLeaseExpires(t *testing.T) {
	forEachDriver(t, testProcessorKilledMidImageIsRecoveredAfterItsLeaseExpires)
}

func testProcessorKilledMidImageIsRecoveredAfterItsLeaseExpires(t *testing.T, driver string) {
	s := newStack(t, stackOptions{driver: driver, noProcessor: true})
	id := s.insert(s.linkDemo("sample4.jpg"))[0]
	// A processor claimed the image and died: the image is processing under its lease and its
	// message comes back from nsqd.
	// The lease outlasts starting a processor and handling the redelivery on a loaded machine.
	ok, err := s.st.ClaimImage(context.Background(), id, "processor-that-died", 6*time.Second)
	if err != nil || !ok {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	if err := s.producer.Publish(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	s.startProcessor()
	waitFor(t, "the redelivered message to be handled", func() bool { return s.handled() >= 1 })
	if img := s.image(id); img.Status != store.StatusProcessing || img.LeaseOwner != "processor-that-died" {
		t.Fatalf("image is %s held by %q: a live lease must not be taken over", img.Status, img.LeaseOwner)
	}

	waitFor(t, "the dead processor's lease to expire", func() bool {
		img := s.image(id)
		return time.Now().After(img.LeaseExpiresAt.Add(10 * time.Millisecond))
	})
	rep, err := s.reconciler(time.Hour).Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Expired) != 1 || rep.Expired[0] != id {
		t.Fatalf("reconciler expired %v, want [%d]", rep.Expired, id)
	}
	img := s.waitFinal(id, 60*time.Second)
	if img.Status != store.StatusUnidentified || img.Attempts != 2 || len(img.Faces) != 4 {
		t.Fatalf("image ended %s after %d attempts with %d faces, want unidentified after 2 with 4", img.Status, img.Attempts, len(img.Faces))
	}
}

func TestPublishFailureIsRecoveredByTheReconciler(t *testing.T) {
	forEachDriver(t, testPublishFailureIsRecoveredByTheReconciler)
}

func testPublishFailureIsRecoveredByTheReconciler(t *testing.T, driver string) {
	s := newStack(t, stackOptions{driver: driver})
	// The row was committed but the publish failed: nothing is on the queue.
	id := s.insert(s.blankPNG("garage.png"))[0]
	time.Sleep(200 * time.Millisecond)
	if img := s.image(id); img.Status != store.StatusPending {
		t.Fatalf("status %s, want pending", img.Status)
	}
	rep, err := s.reconciler(100 * time.Millisecond).Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Republished) != 1 || rep.Republished[0] != id {
		t.Fatalf("reconciler republished %v, want [%d]", rep.Republished, id)
	}
	if img := s.waitFinal(id, 30*time.Second); img.Status != store.StatusNoFaces {
		t.Fatalf("status %s (%q), want no_faces", img.Status, img.LastError)
	}
}

func TestBulkSubmissionIsProcessedOnce(t *testing.T) {
	forEachDriver(t, testBulkSubmissionIsProcessedOnce)
}

func testBulkSubmissionIsProcessedOnce(t *testing.T, driver string) {
	s := newStack(t, stackOptions{driver: driver})
	var paths []string
	for i := 0; i < 20; i++ {
		paths = append(paths, s.blankPNG("cam-"+string(rune('a'+i%26))+string(rune('a'+i/26))+".png"))
	}
	paths = append(paths, s.linkDemo("sample5.jpg"))
	ids := s.submit(paths...)
	for i, id := range ids {
		img := s.waitFinal(id, 120*time.Second)
		want := store.StatusNoFaces
		if i == len(ids)-1 {
			want = store.StatusUnidentified
		}
		if img.Status != want || img.Attempts != 1 {
			t.Fatalf("image %d (%s) ended %s after %d attempts, want %s after 1", id, paths[i], img.Status, img.Attempts, want)
		}
	}
}

// handled is how many messages the processor has responded to, as its metric counts them.
func (s *stack) handled() int {
	families, err := s.metrics.Gather()
	if err != nil {
		s.t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != processor.MetricMessages {
			continue
		}
		for _, m := range f.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return int(total)
}

func TestShutdownGivesBackTheImagesInFlight(t *testing.T) {
	forEachDriver(t, testShutdownGivesBackTheImagesInFlight)
}

func testShutdownGivesBackTheImagesInFlight(t *testing.T, driver string) {
	s := newStack(t, stackOptions{driver: driver})
	id := s.submit(s.linkDemo("sample5.jpg"))[0]
	waitFor(t, "the image to be claimed", func() bool { return s.image(id).Status == store.StatusProcessing })
	// SIGTERM with no time to finish: the recognizer call is cancelled and the image goes back.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	s.proc.Stop(ctx)
	img := s.image(id)
	if img.Status != store.StatusPending || !strings.Contains(img.LastError, "shut down") {
		// It may have finished in that millisecond; then it must be final and complete.
		if !img.Status.Final() || len(img.Faces) != 5 {
			t.Fatalf("after shutdown the image is %s (%q) with %d faces, want pending or complete", img.Status, img.LastError, len(img.Faces))
		}
		t.Log("the image finished before the shutdown deadline")
		return
	}
	// The requeued message reaches the next processor.
	s.startProcessor()
	if img := s.waitFinal(id, 60*time.Second); img.Status != store.StatusUnidentified || len(img.Faces) != 5 {
		t.Fatalf("image ended %s with %d faces, want unidentified with 5", img.Status, len(img.Faces))
	}
}
