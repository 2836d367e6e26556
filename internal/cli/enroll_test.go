package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/store"
)

func openTestStore(t *testing.T, dataDir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(dataDir, "facecluster.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestEnrollAFolderOnceAndReportBadPhotos(t *testing.T) {
	data, known := t.TempDir(), t.TempDir()
	cropFace(t, "sample1.jpg", 0, filepath.Join(known, "mary_jane.jpg"))
	cropFace(t, "sample1.jpg", 1, filepath.Join(known, "bob_1.jpg"))
	cropFace(t, "sample2.jpg", 0, filepath.Join(known, "bob_2.jpg"))
	blank(t, filepath.Join(known, "wall.jpg"))                                             // no face: taken as a whole-image crop
	os.WriteFile(filepath.Join(known, "broken.jpg"), []byte("\xff\xd8 not a jpeg"), 0o644) // cannot be enrolled
	os.WriteFile(filepath.Join(known, "notes.txt"), []byte("hello"), 0o644)                // not an image: skipped

	r := run(t, "enroll", "--data-dir", data, "--env-file", "", known)
	if r.code != ExitError {
		t.Fatalf("exit %d, want %d because broken.jpg failed\nstderr: %s", r.code, ExitError, r.stderr)
	}
	if want := "5 photos: 4 enrolled, 0 already enrolled, 1 as whole-image crops, 1 failed"; !strings.Contains(r.stdout, want) {
		t.Fatalf("stdout %q, want %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "failed: "+filepath.Join(known, "broken.jpg")) {
		t.Fatalf("stderr does not name the broken photo:\n%s", r.stderr)
	}

	st := openTestStore(t, data)
	ctx := context.Background()
	for name, want := range map[string]int{"mary_jane": 1, "bob": 2, "wall": 1} {
		p, err := st.PersonByName(ctx, name)
		if err != nil {
			t.Fatalf("person %s: %v", name, err)
		}
		ex, err := st.ListExamples(ctx, p.ID)
		if err != nil || len(ex) != want {
			t.Fatalf("%s has %d examples (%v), want %d", name, len(ex), err, want)
		}
		if len(ex[0].Descriptor) != 128 || ex[0].Model == "" || !filepath.IsAbs(ex[0].Source) {
			t.Fatalf("%s's example: %d values, model %q, source %q", name, len(ex[0].Descriptor), ex[0].Model, ex[0].Source)
		}
	}

	// Again, without the broken photo: nothing new, success.
	os.Remove(filepath.Join(known, "broken.jpg"))
	r = run(t, "enroll", "--data-dir", data, "--env-file", "", known)
	if r.code != ExitOK || !strings.Contains(r.stdout, "4 photos: 0 enrolled, 4 already enrolled") {
		t.Fatalf("second run: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestEnrollUsage(t *testing.T) {
	for _, args := range [][]string{{"enroll"}, {"enroll", filepath.Join(t.TempDir(), "missing")}} {
		if r := run(t, append(args, "--data-dir", t.TempDir(), "--env-file", "")...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %s)", args, r.code, ExitUsage, r.stderr)
		}
	}
}
