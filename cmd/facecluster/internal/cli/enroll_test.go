package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/store"
)

// testDB is a fresh database for one CLI test: the flags that point the binary at it, and the
// store options a test uses to check what the binary wrote.
type testDB struct {
	args []string
	opts store.Options
}

// newTestDB makes a SQLite file under a new data directory, or a new database on the test MySQL.
func newTestDB(t *testing.T, driver string) testDB {
	t.Helper()
	if driver == store.DriverMySQL {
		dsn := testutil.MySQLDSN(t)
		return testDB{
			args: []string{"--data-dir", t.TempDir(), "--db-driver", "mysql", "--db-dsn", dsn},
			opts: store.Options{Driver: store.DriverMySQL, DSN: dsn},
		}
	}
	data := t.TempDir()
	return testDB{
		args: []string{"--data-dir", data},
		opts: store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(data, "facecluster.db")},
	}
}

// run runs the binary against this database: the subcommand, then the database flags, then args.
func (d testDB) run(t *testing.T, cmd string, args ...string) result {
	t.Helper()
	return run(t, append(append([]string{cmd}, d.args...), args...)...)
}

func (d testDB) open(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), d.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// forEachDriver runs one test body as a subtest per SQL driver (SQLite and real MySQL).
func forEachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	t.Helper()
	for _, driver := range []string{store.DriverSQLite, store.DriverMySQL} {
		t.Run(driver, func(t *testing.T) { test(t, driver) })
	}
}

func TestEnrollAFolderOnceAndReportBadPhotos(t *testing.T) { forEachDriver(t, testEnrollAFolderOnce) }

func testEnrollAFolderOnce(t *testing.T, driver string) {
	db, known := newTestDB(t, driver), t.TempDir()
	cropFace(t, "sample1.jpg", 0, filepath.Join(known, "mary_jane.jpg"))
	cropFace(t, "sample1.jpg", 1, filepath.Join(known, "bob_1.jpg"))
	cropFace(t, "sample2.jpg", 0, filepath.Join(known, "bob_2.jpg"))
	blank(t, filepath.Join(known, "wall.jpg"))                                             // no face, no detail: refused
	os.WriteFile(filepath.Join(known, "broken.jpg"), []byte("\xff\xd8 not a jpeg"), 0o644) // cannot be enrolled
	os.WriteFile(filepath.Join(known, "notes.txt"), []byte("hello"), 0o644)                // not an image: skipped
	os.WriteFile(filepath.Join(known, "carol.png"), testutil.TightFaceCrop(t), 0o644)      // no face detected: taken whole

	r := db.run(t, "enroll", "--env-file", "", known)
	if r.code != ExitError {
		t.Fatalf("exit %d, want %d because broken.jpg failed\nstderr: %s", r.code, ExitError, r.stderr)
	}
	if want := "6 photos: 4 enrolled, 0 already enrolled, 1 as whole-image crops, 1 refused for quality, 1 failed"; !strings.Contains(r.stdout, want) {
		t.Fatalf("stdout %q, want %q\nstderr: %s", r.stdout, want, r.stderr)
	}
	for _, want := range []string{
		"failed: " + filepath.Join(known, "broken.jpg"),
		"refused: " + filepath.Join(known, "wall.jpg") + ": no face found, so the whole photo was taken as the face; the face is too blurred",
		"whole photo used: " + filepath.Join(known, "carol.png") + ": no face found, the whole photo was used as the face",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("stderr does not say %q:\n%s", want, r.stderr)
		}
	}

	st := db.open(t)
	ctx := context.Background()
	check := func(want map[string]int) {
		t.Helper()
		for name, want := range want {
			p, err := st.PersonByName(ctx, name)
			if want == 0 && errors.Is(err, store.ErrNotFound) {
				continue // a person whose photos were all refused is not created
			}
			if err != nil {
				t.Fatalf("person %s: %v", name, err)
			}
			ex, err := st.ListExamples(ctx, p.ID)
			if err != nil || len(ex) != want {
				t.Fatalf("%s has %d examples (%v), want %d", name, len(ex), err, want)
			}
			if want > 0 && (len(ex[0].Descriptor) != 128 || ex[0].Model == "" || !filepath.IsAbs(ex[0].Source)) {
				t.Fatalf("%s's example: %d values, model %q, source %q", name, len(ex[0].Descriptor), ex[0].Model, ex[0].Source)
			}
		}
	}
	check(map[string]int{"mary_jane": 1, "bob": 2, "carol": 1, "wall": 0})

	// Again, without the broken photo and letting the refused one through: wall.jpg is
	// enrolled with a warning, nothing else is new, success.
	os.Remove(filepath.Join(known, "broken.jpg"))
	r = db.run(t, "enroll", "--env-file", "", "--allow-low-quality", known)
	if r.code != ExitOK || !strings.Contains(r.stdout, "5 photos: 1 enrolled, 4 already enrolled") || !strings.Contains(r.stderr, "enrolled despite low quality: "+filepath.Join(known, "wall.jpg")) {
		t.Fatalf("second run: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	check(map[string]int{"wall": 1})
}

func TestEnrollUsage(t *testing.T) {
	for _, args := range [][]string{{"enroll"}, {"enroll", filepath.Join(t.TempDir(), "missing")}} {
		if r := run(t, append(args, "--data-dir", t.TempDir(), "--env-file", "")...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %s)", args, r.code, ExitUsage, r.stderr)
		}
	}
}
