package recognizer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

// TestEnrolmentReachesEveryReplicaWithinTwoSecondsAtALargeGallery is the 2-second promise with
// a gallery far larger than the demo's: two replicas hold N random descriptors (200 000, or
// $FACECLUSTER_TEST_GALLERY_SIZE) and an enrolment, a rename and a deletion each reach both
// within 2 s, because a replica applies only the people a change touched (a full reload of a
// million descriptors takes seconds of CPU and about 900 MB: BenchmarkGalleryChange).
func TestEnrolmentReachesEveryReplicaWithinTwoSecondsAtALargeGallery(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a large gallery")
	}
	n := 100_000
	if v := os.Getenv("FACECLUSTER_TEST_GALLERY_SIZE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("FACECLUSTER_TEST_GALLERY_SIZE=%q: %v", v, err)
		}
	}
	for _, driver := range []string{store.DriverSQLite, store.DriverMySQL} {
		t.Run(driver, func(t *testing.T) {
			st := openStoreOn(t, driver)
			start := time.Now()
			seedGallery(t, st, n)
			t.Logf("seeded %d examples in %s", n, time.Since(start).Round(time.Millisecond))
			start = time.Now()
			a, b := startReplica(t, st, t.TempDir()), startReplica(t, st, t.TempDir())
			ca, cb := dial(t, a.addr), dial(t, b.addr)
			ctx := context.Background()
			waitFor(t, "both replicas to load the gallery", 5*time.Minute, func() bool { return ca.Probe(ctx) == nil && cb.Probe(ctx) == nil })
			t.Logf("both replicas loaded the whole gallery in %s", time.Since(start).Round(time.Millisecond))

			reach := func(what string) {
				t.Helper()
				version, err := st.GalleryVersion(ctx)
				if err != nil {
					t.Fatal(err)
				}
				took := waitFor(t, what+" to reach both replicas", 2*time.Second, func() bool {
					return a.srv.GalleryVersion() == version && b.srv.GalleryVersion() == version
				})
				t.Logf("%s reached both replicas in %s", what, took.Round(time.Millisecond))
			}
			req := &recognizerv1.RecognizeRequest{Image: &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: demoBytes(t, "sample1.jpg")}}}
			expect := func(want string) {
				t.Helper()
				for name, c := range map[string]*recognizer.Client{"a": ca, "b": cb} {
					resp, err := c.Recognize(ctx, req)
					if err != nil {
						t.Fatalf("replica %s: %v", name, err)
					}
					if got := strings.Join(known(resp), ","); got != want {
						t.Fatalf("replica %s found %q, want %q", name, got, want)
					}
				}
			}

			dir := t.TempDir()
			cropRightmostFace(t, dir, "carol")
			rep, err := enroll.Folder(ctx, enroll.Options{Engine: testEngine(t), Store: st, Dir: dir})
			if err != nil || rep.Enrolled != 1 {
				t.Fatalf("enrol: %+v, %v", rep, err)
			}
			reach("the enrolment")
			expect("carol")

			p, err := st.PersonByName(ctx, "carol")
			if err != nil {
				t.Fatal(err)
			}
			if err := st.RenamePerson(ctx, p.ID, "Caroline"); err != nil {
				t.Fatal(err)
			}
			reach("the rename")
			expect("Caroline")

			if err := st.DeletePerson(ctx, p.ID); err != nil {
				t.Fatal(err)
			}
			reach("the deletion")
			expect("")
			if got := a.srv.GalleryVersion(); got == 0 {
				t.Fatal("no version")
			}
		})
	}
}

// seedGallery enrols n random descriptors (1–9 per person, spread like real ones) straight
// into the tables, in multi-row inserts.
func seedGallery(t testing.TB, st *store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	db := st.DB()
	r := rand.New(rand.NewPCG(1, uint64(n)))
	const batch = 1000
	var personID int64
	var pending []any
	flushPeople := func(people []any) {
		if len(people) == 0 {
			return
		}
		q := "INSERT INTO people (id, name, created_at, updated_at) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, 0, 0), ", len(people)/2), ", ")
		if _, err := db.ExecContext(ctx, q, people...); err != nil {
			t.Fatal(err)
		}
	}
	flush := func() {
		if len(pending) == 0 {
			return
		}
		q := "INSERT INTO examples (person_id, descriptor, model, source, created_at) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, '', 0), ", len(pending)/3), ", ")
		if _, err := db.ExecContext(ctx, q, pending...); err != nil {
			t.Fatal(err)
		}
		pending = pending[:0]
	}
	var people []any
	for done := 0; done < n; {
		personID++
		people = append(people, personID, fmt.Sprintf("seed-%07d", personID))
		var centre [128]float32
		for i := range centre {
			centre[i] = float32(r.NormFloat64() * 0.09)
		}
		for k := 1 + r.IntN(9); k > 0 && done < n; k-- {
			d := make([]float32, 128)
			for i := range d {
				d[i] = centre[i] + float32(r.NormFloat64()*0.04)
			}
			pending = append(pending, personID, store.EncodeDescriptor(d), face.ModelVersion)
			done++
			if len(pending) == 3*batch {
				flushPeople(people)
				people = people[:0]
				flush()
			}
		}
	}
	flushPeople(people)
	flush()
}
