package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/store"
)

// The reconciler role runs background jobs: a retry queued by `facecluster retry --background`
// is done by the serving process, and stopping it leaves no job claimed.
func TestReconcilerRunsBackgroundJobs(t *testing.T) {
	url, srv, stop := startServe(t, true, "--image-root", t.TempDir(), "--roles", "nsqlookupd,nsqd,reconciler")
	st := srv.Store()
	ctx := context.Background()
	sub, err := st.SubmitImages(ctx, []store.NewImage{{Source: "/gone.jpg"}})
	if err != nil {
		t.Fatal(err)
	}
	id := sub[0].ID
	if ok, _ := st.ClaimImage(ctx, id, "p", time.Minute); !ok {
		t.Fatal("claim")
	}
	if _, err := st.RecordFailure(ctx, id, "p", "file vanished", true, 1); err != nil {
		t.Fatal(err)
	}
	job, err := jobs.Create(ctx, st, &jobs.RetryParams{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for job.State != store.JobDone {
		if time.Now().After(deadline) {
			t.Fatalf("the serving reconciler never finished the retry job: %+v", job)
		}
		time.Sleep(100 * time.Millisecond)
		if job, err = st.GetJob(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
	}
	if job.Done != 1 || job.Total != 1 {
		t.Fatalf("retry job %+v", job)
	}
	if img, _ := st.GetImage(ctx, id); img.Status != store.StatusPending {
		t.Fatalf("image %s after the retry job, want pending", img.Status)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{jobs.MetricItems + `{kind="retry"} 1`, jobs.MetricRuns + `{kind="retry",outcome="done"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	stop()
}

// The recognizer role runs the kinds that need the engine: a reembed job queued while only a
// recognizer serves (`facecluster reembed --background`) is done there, and an example of an
// older descriptor version ends at the current one, described from its original.
func TestRecognizerRunsReembedJobs(t *testing.T) {
	root := t.TempDir()
	photo, err := os.ReadFile(filepath.Join(testutil.SharedTestdata(t), "surprised.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	original := filepath.Join(root, "ann.jpg")
	if err := os.WriteFile(original, photo, 0o644); err != nil {
		t.Fatal(err)
	}
	url, srv, stop := startServe(t, true, "--image-root", root, "--roles", "recognizer")
	defer stop()
	st := srv.Store()
	ctx := context.Background()
	ann, err := st.CreatePerson(ctx, "Ann")
	if err != nil {
		t.Fatal(err)
	}
	old := make([]float32, store.DescriptorLen)
	old[0] = 1
	ex, err := st.AddExample(ctx, store.NewExample{PersonID: ann.ID, Descriptor: old, Model: "an-older-model", Source: original, Original: original})
	if err != nil {
		t.Fatal(err)
	}
	job, err := jobs.Create(ctx, st, &jobs.ReembedParams{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for job.State != store.JobDone {
		if time.Now().After(deadline) || job.State.Final() {
			t.Fatalf("the serving recognizer never finished the reembed job: %+v", job)
		}
		time.Sleep(100 * time.Millisecond)
		if job, err = st.GetJob(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
	}
	exs, err := st.ListExamples(ctx, ann.ID)
	if err != nil || len(exs) != 1 || exs[0].ID != ex.ID || exs[0].Model != face.ModelVersion || slices.Equal(exs[0].Descriptor, old) {
		t.Fatalf("Ann's example after the reembed job: %+v, %v", exs, err)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{jobs.MetricItems + `{kind="reembed"} 1`, jobs.MetricRuns + `{kind="reembed",outcome="done"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
