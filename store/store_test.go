package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
)

// openers give every test a fresh, migrated database of each dialect: the same suite runs on
// SQLite and on the real MySQL/MariaDB server.
var openers = map[string]func(t testing.TB) Options{
	DriverSQLite: func(t testing.TB) Options {
		return Options{Driver: DriverSQLite, DSN: filepath.Join(t.TempDir(), "facecluster.db")}
	},
	DriverMySQL: func(t testing.TB) Options {
		return Options{Driver: DriverMySQL, DSN: testutil.MySQLDSN(t)}
	},
}

func openStore(t testing.TB, driver string) *Store {
	t.Helper()
	ctx := context.Background()
	opts := openers[driver](t)
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// eachDriver runs fn as a subtest per dialect.
func eachDriver(t *testing.T, fn func(t *testing.T, s *Store)) {
	for _, d := range []string{DriverSQLite, DriverMySQL} {
		t.Run(d, func(t *testing.T) { fn(t, openStore(t, d)) })
	}
}

// eachSubmitPath is eachDriver plus, on MySQL, a second run with INSERT … RETURNING turned off:
// the suite's MariaDB takes the RETURNING path, MySQL servers the insert-then-select one, and
// both must keep SubmitImages' guarantees.
func eachSubmitPath(t *testing.T, fn func(t *testing.T, s *Store)) {
	eachDriver(t, fn)
	t.Run("mysql-select-back", func(t *testing.T) {
		s := openStore(t, DriverMySQL)
		s.returning = false
		fn(t, s)
	})
}

func TestMariaDBReturning(t *testing.T) {
	for v, want := range map[string]bool{
		"10.11.19-MariaDB-0+deb12u1": true, "10.5.0-MariaDB": true, "11.4.2-MariaDB-ubu2404": true,
		"5.5.5-10.6.1-MariaDB": true, "10.4.34-MariaDB": false, "8.4.3": false, "8.0.36-0ubuntu0.22.04.1": false,
	} {
		if got := mariaDBReturning(v); got != want {
			t.Errorf("mariaDBReturning(%q) = %v, want %v", v, got, want)
		}
	}
	s := openStore(t, DriverMySQL) // the suite's server: Open asked it which it is
	var v string
	if err := s.db.QueryRow("SELECT VERSION()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if s.returning != mariaDBReturning(v) {
		t.Fatalf("server %q: returning %v", v, s.returning)
	}
	t.Logf("server %s: INSERT … RETURNING %v", v, s.returning)
}

func desc(seed float32) []float32 {
	d := make([]float32, DescriptorLen)
	for i := range d {
		d[i] = seed + float32(i)/1000
	}
	return d
}

func submitOne(t *testing.T, s *Store, path string) int64 {
	t.Helper()
	res, err := s.SubmitImages(context.Background(), []NewImage{{Source: path}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].ID
}

func mustStatus(t *testing.T, s *Store, id int64, want Status) *Image {
	t.Helper()
	im, err := s.GetImage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if im.Status != want {
		t.Fatalf("image %d status %q, want %q (last error %q)", id, im.Status, want, im.LastError)
	}
	return im
}

func TestMigrateTwiceAndVersion(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		cur, latest, err := s.SchemaVersion(ctx)
		if err != nil || cur != latest || cur < 1 {
			t.Fatalf("schema version %d/%d, %v", cur, latest, err)
		}
	})
}

func TestOpenRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Driver: "postgres", DSN: "x"},
		{Driver: DriverSQLite, DSN: ":memory:"},
		{Driver: DriverSQLite, DSN: ""},
		{Driver: DriverMySQL, DSN: "not a dsn"},
	} {
		if _, err := Open(context.Background(), o); err == nil {
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

func TestSubmitIsIdempotent(t *testing.T) {
	eachSubmitPath(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		first, err := s.SubmitImages(ctx, []NewImage{
			{Source: "/cams/a/1.jpg", Camera: "a"},
			{Source: "/cams/a//1.jpg"}, // same path once cleaned
			{Source: "/cams/b/2.jpg", Camera: "b"},
			{Source: "s3://bucket/up/x", Kind: SourceUpload, Key: "idem-1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if first[0].ID != first[1].ID || !first[0].Created || first[1].Created || !first[2].Created || !first[3].Created {
			t.Fatalf("first submit: %+v", first)
		}
		again, err := s.SubmitImages(ctx, []NewImage{
			{Source: "/cams/b/2.jpg"},
			{Source: "s3://bucket/up/other", Kind: SourceUpload, Key: "idem-1"},
			{Source: "/cams/c/3.jpg"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if again[0].ID != first[2].ID || again[0].Created || again[1].ID != first[3].ID || again[1].Created || !again[2].Created {
			t.Fatalf("second submit: %+v", again)
		}
		counts, err := s.CountByStatus(ctx)
		if err != nil || counts[StatusPending] != 4 {
			t.Fatalf("counts %v %v, want 4 pending", counts, err)
		}
		im := mustStatus(t, s, first[0].ID, StatusPending)
		if im.Source != "/cams/a/1.jpg" || im.SourceKey != "/cams/a/1.jpg" || im.Camera != "a" || im.SourceKind != SourcePath || im.CreatedAt.IsZero() {
			t.Fatalf("image %+v", im)
		}
	})
}

// TestSubmitManyChunks submits more rows than one INSERT takes, half of them already known.
func TestSubmitManyChunks(t *testing.T) {
	eachSubmitPath(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		batch := make([]NewImage, 2*submitChunk+500)
		for i := range batch {
			batch[i] = NewImage{Source: fmt.Sprintf("/many/%05d.jpg", i)}
		}
		first, err := s.SubmitImages(ctx, batch[:len(batch)/2])
		if err != nil {
			t.Fatal(err)
		}
		all, err := s.SubmitImages(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[int64]bool{}
		for i, r := range all {
			if wantNew := i >= len(first); r.Created != wantNew || r.Status != StatusPending || r.Key != batch[i].Source {
				t.Fatalf("row %d: %+v, want created %v", i, r, wantNew)
			}
			if i < len(first) && r.ID != first[i].ID {
				t.Fatalf("row %d: id %d, first submit said %d", i, r.ID, first[i].ID)
			}
			ids[r.ID] = true
		}
		if len(ids) != len(batch) {
			t.Fatalf("%d distinct ids for %d paths", len(ids), len(batch))
		}
	})
}

func TestSubmitBadInputWritesNothing(t *testing.T) {
	eachSubmitPath(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, bad := range []NewImage{
			{Source: ""},
			{Source: "/ok", Kind: "ftp"},
			{Source: "/bad\x00nul"},
			{Source: "/bad/\xff"},
			{Source: "/long/" + string(make([]byte, MaxSourceLen))},
			{Source: "/ok", Camera: string(make([]byte, MaxCameraLen+1))},
		} {
			_, err := s.SubmitImages(ctx, []NewImage{{Source: "/fine.jpg"}, bad})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("submit %q: err %v, want ErrInvalid", bad.Source[:min(len(bad.Source), 20)], err)
			}
		}
		counts, _ := s.CountByStatus(ctx)
		if counts[StatusPending] != 0 {
			t.Fatalf("bad batches wrote %d images", counts[StatusPending])
		}
	})
}

func TestConcurrentDuplicateSubmitsCreateOneRow(t *testing.T) {
	eachSubmitPath(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const workers = 16
		batch := make([]NewImage, 300)
		for i := range batch {
			batch[i] = NewImage{Source: fmt.Sprintf("/dup/%04d.jpg", i)}
		}
		var wg sync.WaitGroup
		results := make([][]Submitted, workers)
		errs := make([]error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := slices.Clone(batch)
				if w%2 == 1 {
					slices.Reverse(mine)
				}
				results[w], errs[w] = s.SubmitImages(ctx, append(mine, NewImage{Source: "/dup/single.jpg"}))
			}()
		}
		wg.Wait()
		ids := map[string]int64{}
		created := map[string]int{}
		for w := range workers {
			if errs[w] != nil {
				t.Fatalf("worker %d: %v", w, errs[w])
			}
			for _, r := range results[w] {
				if prev, ok := ids[r.Key]; ok && prev != r.ID {
					t.Fatalf("key %s got ids %d and %d", r.Key, prev, r.ID)
				}
				ids[r.Key] = r.ID
				if r.Created {
					created[r.Key]++
				}
			}
		}
		for k := range ids {
			if created[k] != 1 {
				t.Fatalf("key %s reported created %d times, want exactly once", k, created[k])
			}
		}
		counts, _ := s.CountByStatus(ctx)
		if counts[StatusPending] != int64(len(batch)+1) {
			t.Fatalf("%d rows, want %d", counts[StatusPending], len(batch)+1)
		}
	})
}

func TestStatusTransitions(t *testing.T) {
	alice := func(t *testing.T, s *Store) int64 {
		p, err := s.EnsurePerson(context.Background(), "Alice")
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	box := Box{X: 10, Y: 20, W: 30, H: 40}
	cases := []struct {
		name      string
		run       func(t *testing.T, s *Store, id int64) (Status, error) // the status the call returns
		want      Status
		wantFaces int
		wantErr   error
	}{
		{"known face → processed", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordOutcome(context.Background(), id, "p1", Outcome{Faces: []Face{
				{Box: box, Score: 0.9, PersonID: alice(t, s), Distance: 0.3, Descriptor: desc(1), Landmarks: []Point{{1, 2}}},
				{Box: box, Score: 0.8, Distance: 0.7},
			}})
		}, StatusProcessed, 2, nil},
		{"unknown faces → unidentified", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordOutcome(context.Background(), id, "p1", Outcome{Faces: []Face{{Box: box, Score: 0.9, Distance: math.NaN()}}})
		}, StatusUnidentified, 1, nil},
		{"no faces → no_faces", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordOutcome(context.Background(), id, "p1", Outcome{})
		}, StatusNoFaces, 0, nil},
		{"contradicting status refused", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordOutcome(context.Background(), id, "p1", Outcome{Status: StatusProcessed})
		}, StatusProcessing, 0, ErrInvalid},
		{"same person twice refused", func(t *testing.T, s *Store, id int64) (Status, error) {
			a := alice(t, s)
			return s.RecordOutcome(context.Background(), id, "p1", Outcome{Faces: []Face{{Box: box, PersonID: a}, {Box: box, PersonID: a}}})
		}, StatusProcessing, 0, ErrInvalid},
		{"other owner cannot record", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordOutcome(context.Background(), id, "p2", Outcome{})
		}, StatusProcessing, 0, ErrLeaseNotHeld},
		{"transient failure → pending", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordFailure(context.Background(), id, "p1", "recognizer unavailable", false, 3)
		}, StatusPending, 0, nil},
		{"permanent failure → failed", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordFailure(context.Background(), id, "p1", "corrupt JPEG", true, 3)
		}, StatusFailed, 0, nil},
		{"attempts exhausted → failed", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordFailure(context.Background(), id, "p1", "timeout", false, 1)
		}, StatusFailed, 0, nil},
		{"other owner cannot fail it", func(t *testing.T, s *Store, id int64) (Status, error) {
			return s.RecordFailure(context.Background(), id, "p2", "x", true, 1)
		}, StatusProcessing, 0, ErrLeaseNotHeld},
	}
	eachDriver(t, func(t *testing.T, s *Store) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				id := submitOne(t, s, fmt.Sprintf("/t/%d.jpg", i))
				ok, err := s.ClaimImage(ctx, id, "p1", time.Minute)
				if err != nil || !ok {
					t.Fatalf("claim: %v %v", ok, err)
				}
				returned, err := c.run(t, s, id)
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				if err == nil && returned != c.want {
					t.Fatalf("the call returned status %q, want %q", returned, c.want)
				}
				im := mustStatus(t, s, id, c.want)
				if len(im.Faces) != c.wantFaces {
					t.Fatalf("%d faces, want %d", len(im.Faces), c.wantFaces)
				}
				if c.want.Final() && (im.LeaseOwner != "" || im.ProcessedAt.IsZero()) {
					t.Fatalf("final image keeps lease %q / processed_at %v", im.LeaseOwner, im.ProcessedAt)
				}
				if c.want == StatusFailed && im.LastError == "" {
					t.Fatal("failed image without a reason")
				}
				if c.want == StatusProcessed {
					f := im.Faces[0]
					if f.Person != "Alice" || f.Box != box || f.Distance != 0.3 || len(f.Descriptor) != DescriptorLen || f.Descriptor[5] != desc(1)[5] || len(f.Landmarks) != 1 || im.Faces[1].Known() {
						t.Fatalf("faces %+v", im.Faces)
					}
				}
				if c.want.Final() {
					if ok, _ := s.ClaimImage(ctx, id, "p3", time.Minute); ok {
						t.Fatal("claimed a final image")
					}
				}
			})
		}
	})
}

func TestClaimLeaseAndExpiry(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		id := submitOne(t, s, "/lease.jpg")
		if ok, _ := s.ClaimImage(ctx, id, "", time.Minute); ok {
			t.Fatal("claim without owner")
		}
		if ok, err := s.ClaimImage(ctx, 999999, "p1", time.Minute); ok || err != nil {
			t.Fatalf("claim of a missing image: %v %v", ok, err)
		}
		if ok, _ := s.ClaimImage(ctx, id, "p1", time.Minute); !ok {
			t.Fatal("first claim lost")
		}
		if ok, _ := s.ClaimImage(ctx, id, "p2", time.Minute); ok {
			t.Fatal("second owner claimed a held image")
		}
		// p1 dies; time passes beyond its lease.
		base := time.Now()
		s.now = func() time.Time { return base.Add(2 * time.Minute) }
		if ok, _ := s.ClaimImage(ctx, id, "p2", time.Minute); !ok {
			t.Fatal("stale lease not reclaimable")
		}
		if _, err := s.RecordOutcome(ctx, id, "p1", Outcome{}); !errors.Is(err, ErrLeaseNotHeld) {
			t.Fatalf("late outcome of the dead owner: %v", err)
		}
		im := mustStatus(t, s, id, StatusProcessing)
		if im.Attempts != 2 || im.LeaseOwner != "p2" {
			t.Fatalf("attempts %d owner %q", im.Attempts, im.LeaseOwner)
		}
		// ExpireLeases: back to pending while attempts remain, failed when exhausted.
		exp, err := s.ExpireLeases(ctx, base.Add(10*time.Minute), 5)
		if err != nil || !slices.Equal(exp.Requeued, []int64{id}) || len(exp.Failed) != 0 {
			t.Fatalf("expire: %+v %v", exp, err)
		}
		mustStatus(t, s, id, StatusPending)
		if ok, _ := s.ClaimImage(ctx, id, "p3", time.Minute); !ok {
			t.Fatal("claim after expiry")
		}
		exp, err = s.ExpireLeases(ctx, base.Add(20*time.Minute), 3)
		if err != nil || !slices.Equal(exp.Failed, []int64{id}) {
			t.Fatalf("expire with attempts exhausted: %+v %v", exp, err)
		}
		mustStatus(t, s, id, StatusFailed)
		// A live lease is left alone.
		id2 := submitOne(t, s, "/lease2.jpg")
		s.ClaimImage(ctx, id2, "p1", time.Hour)
		exp, _ = s.ExpireLeases(ctx, base.Add(3*time.Minute), 0)
		if len(exp.Requeued)+len(exp.Failed) != 0 {
			t.Fatalf("expired a live lease: %+v", exp)
		}
		if err := s.ExtendLease(ctx, id2, "p9", time.Hour); !errors.Is(err, ErrLeaseNotHeld) {
			t.Fatalf("extend by a stranger: %v", err)
		}
		if err := s.ExtendLease(ctx, id2, "p1", 3*time.Hour); err != nil {
			t.Fatalf("extend by the owner: %v", err)
		}
		exp, _ = s.ExpireLeases(ctx, base.Add(2*time.Hour), 0)
		if len(exp.Requeued)+len(exp.Failed) != 0 {
			t.Fatalf("expired an extended lease: %+v", exp)
		}
	})
}

func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		id := submitOne(t, s, "/race.jpg")
		var wg sync.WaitGroup
		var mu sync.Mutex
		winners := 0
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.ClaimImage(ctx, id, fmt.Sprintf("p%d", w), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					winners++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if winners != 1 {
			t.Fatalf("%d winners", winners)
		}
		if im := mustStatus(t, s, id, StatusProcessing); im.Attempts != 1 {
			t.Fatalf("attempts %d", im.Attempts)
		}
	})
}

func TestOutcomeReplacesFacesOnRedelivery(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		id := submitOne(t, s, "/twice.jpg")
		faces := []Face{{Box: Box{1, 2, 3, 4}, Score: 0.9}, {Box: Box{5, 6, 7, 8}, Score: 0.8}}
		for round := range 2 {
			// Redelivered after an expired lease: processed again, one set of faces remains.
			if round == 1 {
				if _, err := s.RetryImages(ctx, []Status{StatusUnidentified}, 0); err != nil {
					t.Fatal(err)
				}
			}
			if ok, _ := s.ClaimImage(ctx, id, "p", time.Minute); !ok {
				t.Fatalf("round %d: claim", round)
			}
			if _, err := s.RecordOutcome(ctx, id, "p", Outcome{Faces: faces, Width: 640, Height: 480}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RecordOutcome(ctx, id, "p", Outcome{Faces: faces}); !errors.Is(err, ErrLeaseNotHeld) {
				t.Fatalf("second outcome: %v", err)
			}
		}
		im := mustStatus(t, s, id, StatusUnidentified)
		if len(im.Faces) != 2 || im.Faces[1].Idx != 1 || im.Width != 640 {
			t.Fatalf("faces %+v width %d", im.Faces, im.Width)
		}
	})
}

func TestStalePendingAndRetry(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		old := submitOne(t, s, "/old.jpg")
		base := time.Now()
		s.now = func() time.Time { return base.Add(time.Hour) }
		fresh := submitOne(t, s, "/fresh.jpg")
		ids, err := s.StalePending(ctx, 30*time.Minute, 0)
		if err != nil || !slices.Equal(ids, []int64{old}) {
			t.Fatalf("stale %v %v, want [%d] (fresh %d)", ids, err, old, fresh)
		}
		if ids, _ := s.StalePending(ctx, 30*time.Minute, 0); len(ids) != 0 {
			t.Fatalf("republished again at once: %v", ids)
		}
		s.ClaimImage(ctx, old, "p", time.Minute)
		s.RecordFailure(ctx, old, "p", "bad", true, 0)
		s.ClaimImage(ctx, fresh, "p", time.Minute)
		if _, err := s.RetryImages(ctx, []Status{StatusProcessing}, 0); !errors.Is(err, ErrInvalid) {
			t.Fatalf("retry processing: %v", err)
		}
		if err := s.RetryImage(ctx, fresh); !errors.Is(err, ErrConflict) {
			t.Fatalf("retry of a processing image: %v", err)
		}
		if err := s.RetryImage(ctx, 424242); !errors.Is(err, ErrNotFound) {
			t.Fatalf("retry of a missing image: %v", err)
		}
		ids, err = s.RetryImages(ctx, nil, 0)
		if err != nil || !slices.Equal(ids, []int64{old}) {
			t.Fatalf("retry failed: %v %v", ids, err)
		}
		if im := mustStatus(t, s, old, StatusPending); im.Attempts != 0 || im.LastError != "" {
			t.Fatalf("retried image %+v", im)
		}
	})
}

// TestStalePendingTouchesEveryImage: more stale images than one IN list holds are all returned
// and all marked as touched (none comes back on the next pass).
func TestStalePendingTouchesEveryImage(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		n := 2*maxInList + 1
		batch := make([]NewImage, n)
		for i := range batch {
			batch[i] = NewImage{Source: fmt.Sprintf("/stale/%04d.jpg", i)}
		}
		if _, err := s.SubmitImages(ctx, batch); err != nil {
			t.Fatal(err)
		}
		base := time.Now()
		s.now = func() time.Time { return base.Add(time.Hour) }
		ids, err := s.StalePending(ctx, 30*time.Minute, 2*n)
		if err != nil || len(ids) != n {
			t.Fatalf("stale: %d ids (%v), want %d", len(ids), err, n)
		}
		if ids, err := s.StalePending(ctx, 30*time.Minute, 2*n); err != nil || len(ids) != 0 {
			t.Fatalf("%d images (%v) were not touched and came back at once", len(ids), err)
		}
	})
}

func TestListImagesPagination(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		base := time.UnixMilli(1_700_000_000_000)
		var all []int64
		for i := range 25 {
			// Several images share a millisecond: the id breaks ties.
			s.now = func() time.Time { return base.Add(time.Duration(i/3) * time.Second) }
			cam := "lobby"
			if i%2 == 1 {
				cam = "garage"
			}
			res, err := s.SubmitImages(ctx, []NewImage{{Source: fmt.Sprintf("/p/%02d.jpg", i), Camera: cam}})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, res[0].ID)
		}
		slices.Reverse(all) // newest first
		var got []int64
		cursor := ""
		for pages := 0; ; pages++ {
			page, err := s.ListImages(ctx, ImageFilter{Cursor: cursor, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			for _, im := range page.Images {
				got = append(got, im.ID)
			}
			if pages == 0 {
				// New submissions between pages must not shift later pages.
				s.now = func() time.Time { return base.Add(time.Hour) }
				submitOne(t, s, "/p/late.jpg")
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		if !slices.Equal(got, all) {
			t.Fatalf("pages gave %v, want %v", got, all)
		}
		garage, _ := s.ListImages(ctx, ImageFilter{Camera: "garage", Limit: 100})
		if len(garage.Images) != 12 {
			t.Fatalf("garage: %d images", len(garage.Images))
		}
		window, _ := s.ListImages(ctx, ImageFilter{From: base.Add(2 * time.Second), To: base.Add(4 * time.Second), Limit: 100})
		if len(window.Images) != 6 {
			t.Fatalf("time window: %d images, want 6", len(window.Images))
		}
		if _, err := s.ListImages(ctx, ImageFilter{Cursor: "!!"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad cursor: %v", err)
		}
		if _, err := s.ListImages(ctx, ImageFilter{Statuses: []Status{"done"}}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad status: %v", err)
		}
		// Status and person filters.
		p, _ := s.CreatePerson(ctx, "Bob")
		s.ClaimImage(ctx, all[3], "w", time.Hour)
		if _, err := s.RecordOutcome(ctx, all[3], "w", Outcome{Faces: []Face{{Score: 1, PersonID: p.ID}}}); err != nil {
			t.Fatal(err)
		}
		seen, _ := s.ListImages(ctx, ImageFilter{PersonID: p.ID, WithFaces: true})
		if len(seen.Images) != 1 || seen.Images[0].ID != all[3] || seen.Images[0].Faces[0].Person != "Bob" {
			t.Fatalf("person filter: %+v", seen.Images)
		}
		done, _ := s.ListImages(ctx, ImageFilter{Statuses: []Status{StatusProcessed, StatusFailed}})
		if len(done.Images) != 1 {
			t.Fatalf("status filter: %d", len(done.Images))
		}
	})
}

func TestPeopleExamplesAndGallery(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		v0, _ := s.GalleryVersion(ctx)
		ann, err := s.CreatePerson(ctx, "  Ann ")
		if err != nil || ann.Name != "Ann" {
			t.Fatalf("create: %+v %v", ann, err)
		}
		if _, err := s.CreatePerson(ctx, "Ann"); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, err := s.CreatePerson(ctx, "ann"); err != nil {
			t.Fatalf("names are case-sensitive: %v", err)
		}
		for _, bad := range []string{"", "  ", "a\nb", string(make([]byte, MaxNameLen+1))} {
			if _, err := s.CreatePerson(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("name %q: %v", bad, err)
			}
		}
		ben, _ := s.EnsurePerson(ctx, "Ben")
		if again, _ := s.EnsurePerson(ctx, "Ben"); again.ID != ben.ID {
			t.Fatal("EnsurePerson created a second Ben")
		}
		ex, err := s.AddExample(ctx, NewExample{PersonID: ann.ID, Descriptor: desc(0.5), Model: "m1", Source: "/known/ann_1.jpg"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddExample(ctx, NewExample{PersonID: ann.ID, Descriptor: desc(0.1)[:10], Model: "m1"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("short descriptor: %v", err)
		}
		if _, err := s.AddExample(ctx, NewExample{PersonID: 777, Descriptor: desc(0.1), Model: "m1"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("example of nobody: %v", err)
		}
		if has, _ := s.HasExample(ctx, ann.ID, "/known/ann_1.jpg"); !has {
			t.Fatal("HasExample false")
		}
		s.AddExample(ctx, NewExample{PersonID: ben.ID, Descriptor: desc(0.9), Model: "m1", Source: "/known/ben.jpg"})
		v1, gal, err := s.LoadGallery(ctx)
		if err != nil || v1 <= v0 || len(gal) != 2 || gal[0].Person != "Ann" || gal[0].Descriptor[3] != desc(0.5)[3] {
			t.Fatalf("gallery v%d→v%d %+v %v", v0, v1, gal, err)
		}
		var sv int64
		var streamed []Example
		err = s.StreamGallery(ctx, func(v int64, n int) error {
			if n != len(gal) {
				t.Errorf("StreamGallery announced %d examples, want %d", n, len(gal))
			}
			sv = v
			return nil
		}, func(r *GalleryRow) error {
			d := make([]float32, DescriptorLen)
			if err := DecodeDescriptorInto(d, r.Descriptor); err != nil {
				return err
			}
			streamed = append(streamed, Example{ID: r.ID, PersonID: r.PersonID, Person: string(r.Person), Model: string(r.Model), Descriptor: d})
			return nil
		})
		if err != nil || sv != v1 || len(streamed) != len(gal) {
			t.Fatalf("StreamGallery: v%d %d examples, %v; want v%d %d", sv, len(streamed), err, v1, len(gal))
		}
		for i, e := range streamed {
			g := gal[i]
			if e.ID != g.ID || e.PersonID != g.PersonID || e.Person != g.Person || e.Model != g.Model || !slices.Equal(e.Descriptor, g.Descriptor) {
				t.Fatalf("streamed %+v, loaded %+v", e, g)
			}
		}
		if err := s.RenamePerson(ctx, ann.ID, "Anna"); err != nil {
			t.Fatal(err)
		}
		if err := s.RenamePerson(ctx, ann.ID, "Anna"); err != nil {
			t.Fatalf("rename to the same name: %v", err)
		}
		if err := s.RenamePerson(ctx, ann.ID, "Ben"); !errors.Is(err, ErrConflict) {
			t.Fatalf("rename onto Ben: %v", err)
		}
		if err := s.RenamePerson(ctx, 999, "Zed"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("rename nobody: %v", err)
		}
		v2, gal, _ := s.LoadGallery(ctx)
		if v2 <= v1 || gal[0].Person != "Anna" {
			t.Fatalf("after rename v%d %+v", v2, gal[0].Person)
		}
		exs, _ := s.ListExamples(ctx, ann.ID)
		if len(exs) != 1 || exs[0].ID != ex.ID || exs[0].Source != "/known/ann_1.jpg" || exs[0].Model != "m1" {
			t.Fatalf("examples %+v", exs)
		}
		if err := s.RemoveExample(ctx, ex.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveExample(ctx, ex.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("remove twice: %v", err)
		}
		if v3, _ := s.GalleryVersion(ctx); v3 <= v2 {
			t.Fatal("remove did not bump the gallery version")
		}
		people, _ := s.ListPeople(ctx)
		if len(people) != 3 || people[0].Name != "Anna" || people[1].Name != "Ben" || people[1].Examples != 1 {
			t.Fatalf("people %+v", people)
		}
	})
}

// recordKnown processes a new image whose faces are matched to the given people (0 = unknown).
func recordKnown(t *testing.T, s *Store, path string, people ...int64) int64 {
	t.Helper()
	ctx := context.Background()
	id := submitOne(t, s, path)
	if ok, err := s.ClaimImage(ctx, id, "w", time.Minute); !ok || err != nil {
		t.Fatalf("claim %s: %v", path, err)
	}
	var faces []Face
	for i, p := range people {
		faces = append(faces, Face{Box: Box{X: float64(i)}, Score: 0.9, PersonID: p, Distance: 0.4, Descriptor: desc(float32(i))})
	}
	if _, err := s.RecordOutcome(ctx, id, "w", Outcome{Faces: faces}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDeletePersonRemovesEverythingAboutThem(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		cy, _ := s.CreatePerson(ctx, "Cy")
		di, _ := s.CreatePerson(ctx, "Di")
		s.AddExample(ctx, NewExample{PersonID: cy.ID, Descriptor: desc(1), Model: "m"})
		onlyCy := recordKnown(t, s, "/d/1.jpg", cy.ID, 0)
		both := recordKnown(t, s, "/d/2.jpg", cy.ID, di.ID)
		if p, _ := s.GetPerson(ctx, cy.ID); p.Images != 2 || p.Examples != 1 || p.LastSeen.IsZero() {
			t.Fatalf("before delete %+v", p)
		}
		hist, _, err := s.PersonHistory(ctx, cy.ID, SightingFilter{})
		if err != nil || len(hist) != 2 || hist[0].ImageSource != "/d/2.jpg" {
			t.Fatalf("history %+v %v", hist, err)
		}
		v, _ := s.GalleryVersion(ctx)
		before, _ := s.GetImage(ctx, both)
		s.now = func() time.Time { return time.Now().Add(time.Minute) }
		if err := s.DeletePerson(ctx, cy.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeletePerson(ctx, cy.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if _, err := s.GetPerson(ctx, cy.ID); !errors.Is(err, ErrNotFound) {
			t.Fatal("person still there")
		}
		_, gal, _ := s.LoadGallery(ctx)
		if len(gal) != 0 {
			t.Fatalf("examples survive: %+v", gal)
		}
		if v2, _ := s.GalleryVersion(ctx); v2 <= v {
			t.Fatal("gallery version not bumped")
		}
		im := mustStatus(t, s, onlyCy, StatusUnidentified)
		if f := im.Faces[0]; f.Known() || !math.IsNaN(f.Distance) || im.Faces[1].Known() {
			t.Fatalf("face still assigned: %+v", im.Faces)
		}
		im = mustStatus(t, s, both, StatusProcessed)
		if im.Faces[1].Person != "Di" || im.Faces[0].Known() {
			t.Fatalf("faces after delete %+v", im.Faces)
		}
		if !im.UpdatedAt.After(before.UpdatedAt) {
			t.Fatal("updated_at of an image whose faces changed did not move (the UI's live updates follow it)")
		}
		unknown, _, _ := s.UnknownFaces(ctx, SightingFilter{})
		if len(unknown) != 3 {
			t.Fatalf("%d unknown faces, want 3", len(unknown))
		}
		// Deleting an image removes its faces too (cascade).
		if _, err := s.DB().ExecContext(ctx, "DELETE FROM images WHERE id = ?", both); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.GetPerson(ctx, di.ID); p.Images != 0 {
			t.Fatalf("faces of a deleted image survive: %+v", p)
		}
	})
}

func TestMergeAndAssign(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ed, _ := s.CreatePerson(ctx, "Ed")
		eddie, _ := s.CreatePerson(ctx, "Eddie")
		s.AddExample(ctx, NewExample{PersonID: eddie.ID, Descriptor: desc(2), Model: "m"})
		shared := recordKnown(t, s, "/m/1.jpg", ed.ID, eddie.ID)
		alone := recordKnown(t, s, "/m/2.jpg", eddie.ID)
		if err := s.MergePeople(ctx, ed.ID, eddie.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetPerson(ctx, eddie.ID); !errors.Is(err, ErrNotFound) {
			t.Fatal("merged person remains")
		}
		p, _ := s.GetPerson(ctx, ed.ID)
		if p.Examples != 1 || p.Images != 2 {
			t.Fatalf("merged %+v", p)
		}
		im, _ := s.GetImage(ctx, shared)
		if im.Faces[0].Person != "Ed" || im.Faces[1].Known() {
			t.Fatalf("shared image faces %+v", im.Faces)
		}
		if im, _ := s.GetImage(ctx, alone); im.Faces[0].Person != "Ed" {
			t.Fatalf("alone image faces %+v", im.Faces)
		}
		if err := s.MergePeople(ctx, ed.ID, ed.ID); !errors.Is(err, ErrInvalid) {
			t.Fatalf("self merge: %v", err)
		}
		// Hand-assign the unknown face of the shared image back and forth.
		faceID := im.Faces[1].ID
		if err := s.AssignFace(ctx, faceID, ed.ID); err != nil {
			t.Fatal(err)
		}
		im, _ = s.GetImage(ctx, shared)
		if im.Faces[0].Known() || im.Faces[1].Person != "Ed" {
			t.Fatalf("after assign %+v", im.Faces)
		}
		unk := recordKnown(t, s, "/m/3.jpg", 0)
		f3 := mustStatus(t, s, unk, StatusUnidentified).Faces[0].ID
		if err := s.AssignFace(ctx, f3, ed.ID); err != nil {
			t.Fatal(err)
		}
		mustStatus(t, s, unk, StatusProcessed)
		if err := s.AssignFace(ctx, f3, 0); err != nil {
			t.Fatal(err)
		}
		mustStatus(t, s, unk, StatusUnidentified)
		if err := s.AssignFace(ctx, 98765, ed.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("assign missing face: %v", err)
		}
	})
}

func TestOutcomeWithDeletedPersonRecordsUnknown(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		gone, _ := s.CreatePerson(ctx, "Gone")
		id := submitOne(t, s, "/gone.jpg")
		s.ClaimImage(ctx, id, "w", time.Minute)
		s.DeletePerson(ctx, gone.ID) // while the recognizer still had them in memory
		faces := []Face{{Score: 1, PersonID: gone.ID}}
		st, err := s.RecordOutcome(ctx, id, "w", Outcome{Faces: faces})
		if err != nil {
			t.Fatal(err)
		}
		if st != StatusUnidentified {
			t.Fatalf("RecordOutcome returned status %q, want %q (the one it stored)", st, StatusUnidentified)
		}
		if faces[0].PersonID != gone.ID {
			t.Fatal("RecordOutcome changed the caller's faces")
		}
		im := mustStatus(t, s, id, StatusUnidentified)
		if im.Faces[0].Known() {
			t.Fatal("face assigned to a deleted person")
		}
	})
}

// TestGalleryChangesNameThePeopleEachChangeTouched: every kind of people/examples change is in
// the log under its version, with the current examples of the people it touched; a version the
// log no longer reaches asks for a full load.
func TestGalleryChangesNameThePeopleEachChangeTouched(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		since, _ := s.GalleryVersion(ctx)
		step := func(what string, change func(), wantPeople []int64, wantExamples int) {
			t.Helper()
			change()
			d, err := s.GalleryChanges(ctx, since)
			if err != nil || d.Full {
				t.Fatalf("%s: %+v %v", what, d, err)
			}
			if !slices.Equal(d.People, wantPeople) || len(d.Examples) != wantExamples {
				t.Fatalf("%s: people %v with %d examples, want %v with %d", what, d.People, len(d.Examples), wantPeople, wantExamples)
			}
			for _, e := range d.Examples {
				if !slices.Contains(wantPeople, e.PersonID) || e.Person == "" || len(e.Descriptor) != 128 {
					t.Fatalf("%s: example %+v", what, e)
				}
			}
			if d.Version <= since {
				t.Fatalf("%s: version %d not after %d", what, d.Version, since)
			}
			since = d.Version
		}
		var ann, bob Person
		var ex Example
		ann, _ = s.CreatePerson(ctx, "Ann")
		bob, _ = s.CreatePerson(ctx, "Bob")
		step("create", func() {}, []int64{ann.ID, bob.ID}, 0)
		step("add", func() {
			var err error
			if ex, err = s.AddExample(ctx, NewExample{PersonID: ann.ID, Descriptor: desc(1), Model: "m", Source: "a.jpg"}); err != nil {
				t.Fatal(err)
			}
			s.AddExample(ctx, NewExample{PersonID: ann.ID, Descriptor: desc(2), Model: "m", Source: "b.jpg"})
		}, []int64{ann.ID}, 2)
		step("remove one", func() {
			if err := s.RemoveExample(ctx, ex.ID); err != nil {
				t.Fatal(err)
			}
		}, []int64{ann.ID}, 1)
		step("rename", func() { s.RenamePerson(ctx, ann.ID, "Anna") }, []int64{ann.ID}, 1)
		step("merge", func() {
			s.AddExample(ctx, NewExample{PersonID: bob.ID, Descriptor: desc(3), Model: "m", Source: "c.jpg"})
			if err := s.MergePeople(ctx, ann.ID, bob.ID); err != nil {
				t.Fatal(err)
			}
		}, []int64{ann.ID, bob.ID}, 2)
		step("delete", func() {
			if err := s.DeletePerson(ctx, ann.ID); err != nil {
				t.Fatal(err)
			}
		}, []int64{ann.ID}, 0)
		if d, err := s.GalleryChanges(ctx, since); err != nil || d.Full || d.Version != since || len(d.People) != 0 {
			t.Fatalf("no change: %+v %v", d, err)
		}
		// Pruned: a recognizer that far behind reloads everything.
		if _, err := s.db.ExecContext(ctx, "UPDATE gallery_state SET changes_from = ?", since); err != nil {
			t.Fatal(err)
		}
		if d, err := s.GalleryChanges(ctx, since-1); err != nil || !d.Full {
			t.Fatalf("behind the log: %+v %v, want Full", d, err)
		}
	})
}
