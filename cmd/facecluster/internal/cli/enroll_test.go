package cli

import (
	"context"
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
	blank(t, filepath.Join(known, "wall.jpg"))                                             // no face: taken as a whole-image crop
	os.WriteFile(filepath.Join(known, "broken.jpg"), []byte("\xff\xd8 not a jpeg"), 0o644) // cannot be enrolled
	os.WriteFile(filepath.Join(known, "notes.txt"), []byte("hello"), 0o644)                // not an image: skipped

	r := db.run(t, "enroll", "--env-file", "", known)
	if r.code != ExitError {
		t.Fatalf("exit %d, want %d because broken.jpg failed\nstderr: %s", r.code, ExitError, r.stderr)
	}
	if want := "5 photos: 4 enrolled, 0 already enrolled, 1 as whole-image crops, 1 failed"; !strings.Contains(r.stdout, want) {
		t.Fatalf("stdout %q, want %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "failed: "+filepath.Join(known, "broken.jpg")) {
		t.Fatalf("stderr does not name the broken photo:\n%s", r.stderr)
	}

	st := db.open(t)
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
	r = db.run(t, "enroll", "--env-file", "", known)
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
