package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestImagesChangedSince(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		clock := time.UnixMilli(1_800_000_000_000).UTC()
		s.now = func() time.Time { return clock }
		a := submitOne(t, s, "/cam/a.jpg")
		clock = clock.Add(time.Second)
		b := submitOne(t, s, "/cam/b.jpg")
		clock = clock.Add(time.Second)
		mark := clock
		ann, _ := s.CreatePerson(ctx, "Ann")
		clock = clock.Add(time.Second)
		recordKnownAt(t, s, a, ann.ID)

		got, err := s.ImagesChangedSince(ctx, mark, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != a || got[0].Status != StatusProcessed || !got[0].UpdatedAt.Equal(clock) {
			t.Fatalf("changes since the mark = %+v, want image %d processed at %v", got, a, clock)
		}
		all, err := s.ImagesChangedSince(ctx, time.UnixMilli(0), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all[0].ID != b || all[1].ID != a {
			t.Fatalf("all changes = %+v, want b then a (oldest change first)", all)
		}
		if one, _ := s.ImagesChangedSince(ctx, time.UnixMilli(0), 0, 1); len(one) != 1 {
			t.Fatalf("limit 1 gave %d changes", len(one))
		}
		// A bulk submit: many images share one updated_at; (updated_at, id) reads on past them.
		clock = clock.Add(time.Second)
		bulk := make([]NewImage, 7)
		for i := range bulk {
			bulk[i] = NewImage{Source: fmt.Sprintf("/cam/bulk-%d.jpg", i)}
		}
		if _, err := s.SubmitImages(ctx, bulk); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		from, after := clock, int64(0)
		for range 10 {
			page, err := s.ImagesChangedSince(ctx, from, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				ids = append(ids, c.ID)
			}
			if len(page) < 3 {
				break
			}
			from, after = page[len(page)-1].UpdatedAt, page[len(page)-1].ID
		}
		if len(ids) != 7 {
			t.Fatalf("paging through a bulk submit of 7 in pages of 3 gave %d changes: %v", len(ids), ids)
		}
	})
}

// recordKnownAt processes image id with one face per person.
func recordKnownAt(t *testing.T, s *Store, id int64, people ...int64) {
	t.Helper()
	ctx := context.Background()
	if ok, err := s.ClaimImage(ctx, id, "w", time.Minute); !ok || err != nil {
		t.Fatalf("claim %d: %v", id, err)
	}
	var faces []Face
	for i, p := range people {
		faces = append(faces, Face{Box: Box{X: float64(i)}, Score: 0.9, PersonID: p, Distance: 0.4, Descriptor: desc(float32(i))})
	}
	if _, err := s.RecordOutcome(ctx, id, "w", Outcome{Faces: faces}); err != nil {
		t.Fatal(err)
	}
}

func TestCountImagesWithStatusAndFinishedSince(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		start := time.UnixMilli(1_800_000_000_000).UTC()
		clock := start
		s.now = func() time.Time { return clock }
		a := submitOne(t, s, "/a.jpg")
		submitOne(t, s, "/b.jpg")
		c := submitOne(t, s, "/c.jpg")
		clock = clock.Add(1500 * time.Millisecond)
		recordKnownAt(t, s, a) // no faces
		if ok, err := s.ClaimImage(ctx, c, "w", time.Minute); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if _, err := s.RecordFailure(ctx, c, "w", "corrupt", true, 3); err != nil {
			t.Fatal(err)
		}
		names, err := s.PeopleNames(ctx)
		if err != nil || len(names) != 0 {
			t.Fatalf("people names of nobody: %v %v", names, err)
		}
		_, _ = s.CreatePerson(ctx, "Zed")
		_, _ = s.CreatePerson(ctx, "Ann")
		if names, err = s.PeopleNames(ctx); err != nil || len(names) != 2 || names[0].Name != "Ann" || names[1].Name != "Zed" {
			t.Fatalf("people names %v %v, want Ann, Zed", names, err)
		}
		for st, want := range map[Status]int64{StatusPending: 1, StatusNoFaces: 1, StatusFailed: 1, StatusProcessed: 0} {
			n, err := s.CountImagesWithStatus(ctx, st, 0)
			if err != nil || n != want {
				t.Fatalf("count %s = %d (%v), want %d", st, n, err, want)
			}
		}
		submitOne(t, s, "/d.jpg")
		if n, err := s.CountImagesWithStatus(ctx, StatusPending, 1); err != nil || n != 1 {
			t.Fatalf("count pending up to 1 = %d (%v), want 1", n, err)
		}
		if _, err := s.CountImagesWithStatus(ctx, "lost", 0); err == nil {
			t.Fatal("unknown status counted")
		}
		fin, err := s.FinishedSince(ctx, start, 0)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range fin {
			if f.Status == StatusNoFaces {
				found = true
				if d := f.ProcessedAt.Sub(f.CreatedAt); d != 1500*time.Millisecond {
					t.Fatalf("latency %v, want 1.5s", d)
				}
			}
			if f.Status == StatusPending {
				t.Fatalf("pending image reported finished: %+v", f)
			}
		}
		if !found {
			t.Fatalf("finished images %+v lack the no_faces one", fin)
		}
		if later, _ := s.FinishedSince(ctx, clock.Add(time.Minute), 0); len(later) != 0 {
			t.Fatalf("finished after the last change: %+v", later)
		}
	})
}
