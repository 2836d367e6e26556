package recognizer_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/gallery"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

// oldModel stands for the descriptor version before an upgrade.
const oldModel = "face-api-1.7.15/recognition-before-upgrade"

// stopAfterFirst is the reembed handler stopped after its first batch, as a runner that is shut
// down mid-job: the job is given back at its checkpoint for another runner to resume.
type stopAfterFirst struct {
	jobs.Handler
	stop    context.CancelFunc
	batches int
}

func (s *stopAfterFirst) Batch(ctx context.Context, job store.Job) (jobs.Step, error) {
	step, err := s.Handler.Batch(ctx, job)
	if s.batches++; s.batches == 1 {
		s.stop()
	}
	return step, err
}

// TestReembedJob: after an upgrade, the reembed job describes again every example and stored
// face of an old version whose original still exists — a photo under the known-people folder,
// an uploaded photo in blob storage, an image under the image root — and each ends at
// face.ModelVersion with exactly the descriptor a fresh description of the original gives. An
// example without an original keeps its old descriptor, is left out of the gallery and
// reported (its person has no current example). A job stopped after its first batch resumes
// from its checkpoint, and the work is counted once.
func TestReembedJob(t *testing.T) {
	eng := testEngine(t)
	shared := testutil.SharedTestdata(t)
	for _, driver := range []string{store.DriverSQLite, store.DriverMySQL} {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := openStoreOn(t, driver)
			root, known := t.TempDir(), t.TempDir()
			blobs, err := blob.Open(ctx, "file://"+t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { blobs.Close() })
			copyFile := func(src, dst string) string {
				b, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return dst
			}
			pathOriginal := copyFile(filepath.Join(shared, "surprised.jpg"), filepath.Join(known, "ann.jpg"))
			angry, err := os.ReadFile(filepath.Join(shared, "angry.jpg"))
			if err != nil {
				t.Fatal(err)
			}
			blobKey, _, err := blobs.PutContent(ctx, angry, ".jpg", "image/jpeg")
			if err != nil {
				t.Fatal(err)
			}
			imagePath := copyFile(filepath.Join(testutil.DemoDir(t), "sample1.jpg"), filepath.Join(root, "sample1.jpg"))

			// The gallery as an older version left it: descriptors that are not the current
			// model's (a fixed vector), marked with the old version.
			old := make([]float32, store.DescriptorLen)
			for i := range old {
				old[i] = 0.05
			}
			ann, _ := st.CreatePerson(ctx, "Ann")
			bob, _ := st.CreatePerson(ctx, "Bob")
			exPath, err := st.AddExample(ctx, store.NewExample{PersonID: ann.ID, Descriptor: old, Model: oldModel, Source: pathOriginal, Original: pathOriginal})
			if err != nil {
				t.Fatal(err)
			}
			exBlob, err := st.AddExample(ctx, store.NewExample{PersonID: ann.ID, Descriptor: old, Model: oldModel, Source: "upload:angry.jpg", Original: blobKey})
			if err != nil {
				t.Fatal(err)
			}
			exLost, err := st.AddExample(ctx, store.NewExample{PersonID: bob.ID, Descriptor: old, Model: oldModel, Source: "upload:bob.jpg"})
			if err != nil {
				t.Fatal(err)
			}
			// A processed image whose faces were stored by the old version.
			sub, err := st.SubmitImages(ctx, []store.NewImage{{Source: imagePath, Kind: store.SourcePath}})
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := imageio.DecodeFile(imagePath, imageio.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := eng.Analyze(ctx, img, face.Options{})
			if err != nil || len(fresh) < 2 {
				t.Fatalf("sample1.jpg: %d faces, %v", len(fresh), err)
			}
			var out store.Outcome
			for _, f := range fresh {
				sf := store.Face{Box: store.Box{X: f.Box.X, Y: f.Box.Y, W: f.Box.W, H: f.Box.H}, Score: f.Score, Descriptor: old, Model: oldModel}
				for _, p := range f.Landmarks {
					sf.Landmarks = append(sf.Landmarks, store.Point{X: p.X, Y: p.Y})
				}
				out.Faces = append(out.Faces, sf)
			}
			if ok, err := st.ClaimImage(ctx, sub[0].ID, "p", time.Minute); !ok || err != nil {
				t.Fatalf("claim: %v %v", ok, err)
			}
			if _, err := st.RecordOutcome(ctx, sub[0].ID, "p", out); err != nil {
				t.Fatal(err)
			}

			// Before: every example is stale, so nobody is recognised, and both people are reported.
			g := gallery.New()
			stats, err := recognizer.LoadGallery(ctx, st, g)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Examples != 0 || stats.StaleByPerson[ann.ID] != 2 || !stats.StalePeople[ann.ID] || !stats.StalePeople[bob.ID] {
				t.Fatalf("before reembed: %+v", stats)
			}

			h, err := recognizer.Reembed(recognizer.ReembedOptions{Engine: eng, Store: st, Blobs: blobs, Root: root, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			job, err := jobs.Create(ctx, st, &jobs.ReembedParams{Batch: 2})
			if err != nil {
				t.Fatal(err)
			}
			total := int64(3 + len(fresh))

			// First runner: stopped after one batch (two examples), gives the job back.
			runCtx, stop := context.WithCancel(ctx)
			first := &stopAfterFirst{Handler: h, stop: stop}
			r1, err := jobs.New(jobs.Options{Store: st, Handlers: map[string]jobs.Handler{jobs.KindReembed: first}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			job, _ = r1.RunJob(runCtx, job.ID)
			stop()
			if job.State != store.JobQueued || job.Done != 2 || job.Total != total || job.Checkpoint != "examples:"+strconv.FormatInt(exBlob.ID, 10) {
				t.Fatalf("after the first runner stopped: %s, %d/%d done, checkpoint %q (want queued, 2/%d, examples:%d)", job.State, job.Done, job.Total, job.Checkpoint, total, exBlob.ID)
			}
			// Second runner: resumes at the checkpoint and finishes.
			r2, err := jobs.New(jobs.Options{Store: st, Handlers: map[string]jobs.Handler{jobs.KindReembed: h}, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			job, err = r2.RunJob(ctx, job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if job.State != store.JobDone || job.Done != total || job.Total != total {
				t.Fatalf("reembed job: %s, %d/%d done (want done, %d)", job.State, job.Done, job.Total, total)
			}

			// Examples with an original: the current version, and exactly a fresh enrolment's
			// descriptor of that original.
			want := map[int64]face.Descriptor{}
			for id, decode := range map[int64]func() ([]byte, error){
				exPath.ID: func() ([]byte, error) { return os.ReadFile(pathOriginal) },
				exBlob.ID: func() ([]byte, error) { return angry, nil },
			} {
				b, err := decode()
				if err != nil {
					t.Fatal(err)
				}
				im, _, err := imageio.Decode(bytes.NewReader(b), imageio.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				faces, _, err := recognizer.DescribeImage(ctx, eng, im, face.Options{}, true)
				if err != nil {
					t.Fatal(err)
				}
				p, ok := face.Primary(faces)
				if !ok {
					t.Fatalf("example %d: no face", id)
				}
				want[id] = p.Descriptor
			}
			exs, err := st.ListExamples(ctx, ann.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range exs {
				w := want[ex.ID]
				if ex.Model != face.ModelVersion || !slices.Equal(ex.Descriptor, w[:]) {
					t.Errorf("example %d (%s): model %q, descriptor equal to a fresh one: %v", ex.ID, ex.Source, ex.Model, slices.Equal(ex.Descriptor, w[:]))
				}
			}
			// The example without an original stays as it was, and is reported.
			lost, err := st.ListExamples(ctx, bob.ID)
			if err != nil || len(lost) != 1 || lost[0].ID != exLost.ID || lost[0].Model != oldModel || !slices.Equal(lost[0].Descriptor, old) {
				t.Fatalf("Bob's example without an original: %+v, %v", lost, err)
			}
			sum, err := st.StaleExampleSummary(ctx, face.ModelVersion)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Examples != 1 || sum.NoOriginal != 1 || len(sum.People) != 1 || sum.People[0].ID != bob.ID {
				t.Fatalf("stale summary after reembed: %+v", sum)
			}
			// Faces: the current version, and the descriptor a fresh analysis of the image gives.
			im, err := st.GetImage(ctx, sub[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range im.Faces {
				if f.Model != face.ModelVersion || !slices.Equal(f.Descriptor, fresh[i].Descriptor[:]) {
					t.Errorf("face %d: model %q, descriptor equal to a fresh analysis: %v", i, f.Model, slices.Equal(f.Descriptor, fresh[i].Descriptor[:]))
				}
			}
			// The recognizers now hold Ann's two examples; Bob is still reported.
			stats, err = recognizer.LoadGallery(ctx, st, g)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Examples != 2 || len(stats.StaleByPerson) != 1 || stats.StaleByPerson[bob.ID] != 1 || len(stats.StalePeople) != 1 || !stats.StalePeople[bob.ID] {
				t.Fatalf("after reembed: %+v", stats)
			}
			if m := g.Match(want[exPath.ID], face.DefaultThreshold); !m.Known || m.PersonID != ann.ID {
				t.Fatalf("Ann's photo after reembed: %+v", m)
			}
		})
	}
}

// A reembed job to another model than the runner's engine computes (a replica still on the old
// version during a rolling upgrade) fails with a sentence saying so and changes nothing.
func TestReembedJobOfAnotherModelFails(t *testing.T) {
	eng := testEngine(t)
	ctx := context.Background()
	st := openStoreOn(t, store.DriverSQLite)
	p, _ := st.CreatePerson(ctx, "Ann")
	d := make([]float32, store.DescriptorLen)
	d[0] = 1
	ex, err := st.AddExample(ctx, store.NewExample{PersonID: p.ID, Descriptor: d, Model: face.ModelVersion, Source: "/k/ann.jpg", Original: "/k/ann.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := recognizer.Reembed(recognizer.ReembedOptions{Engine: eng, Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	job, err := jobs.Create(ctx, st, &jobs.ReembedParams{Model: "a-newer-model"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := jobs.New(jobs.Options{Store: st, Handlers: map[string]jobs.Handler{jobs.KindReembed: h}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	job, err = r.RunJob(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != store.JobFailed || !strings.Contains(job.LastError, `this reembed job is to model "a-newer-model"`) {
		t.Fatalf("job to another model: %s %q", job.State, job.LastError)
	}
	exs, _ := st.ListExamples(ctx, p.ID)
	if len(exs) != 1 || exs[0].ID != ex.ID || exs[0].Model != face.ModelVersion || !slices.Equal(exs[0].Descriptor, d) {
		t.Fatalf("example after the refused job: %+v", exs)
	}
}

// A serving recognizer exports how many examples it leaves out for another descriptor version,
// and how many people are left with none current, at load and as enrolments change.
func TestStaleExampleMetrics(t *testing.T) {
	ctx := context.Background()
	st := openStoreOn(t, store.DriverSQLite)
	d := make([]float32, store.DescriptorLen)
	d[0] = 1
	ann, _ := st.CreatePerson(ctx, "Ann")
	if _, err := st.AddExample(ctx, store.NewExample{PersonID: ann.ID, Descriptor: d, Model: oldModel, Source: "upload:a.jpg"}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	startReplicaWith(t, recognizer.Options{Engine: testEngine(t), Store: st, PollInterval: 50 * time.Millisecond, Registerer: reg})
	gauges := func() (examples, people float64) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case recognizer.MetricGalleryStaleExamples:
				examples = mf.GetMetric()[0].GetGauge().GetValue()
			case recognizer.MetricGalleryStalePeople:
				people = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return examples, people
	}
	for _, step := range []struct {
		what          string
		change        func()
		examples, ppl float64
	}{
		{"at load: Ann's only example is old", func() {}, 1, 1},
		{"Ann gets a current example", func() {
			st.AddExample(ctx, store.NewExample{PersonID: ann.ID, Descriptor: d, Model: face.ModelVersion, Source: "/k/a2.jpg"})
		}, 1, 0},
		{"Bob enrolled with an old example only", func() {
			bob, _ := st.CreatePerson(ctx, "Bob")
			st.AddExample(ctx, store.NewExample{PersonID: bob.ID, Descriptor: d, Model: oldModel, Source: "upload:b.jpg"})
		}, 2, 1},
	} {
		step.change()
		deadline := time.Now().Add(10 * time.Second)
		for {
			e, p := gauges()
			if e == step.examples && p == step.ppl {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s %v, %s %v; want %v and %v", step.what, recognizer.MetricGalleryStaleExamples, e, recognizer.MetricGalleryStalePeople, p, step.examples, step.ppl)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
