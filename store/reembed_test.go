package store

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// The model version every descriptor had before versions were recorded on faces.
const faceAPIModel = "face-api-1.7.15/recognition"

// TestDescriptorVersionsMigration: a database of the schema before descriptor versions (00003)
// keeps its gallery and faces through migration 00004: faces with a descriptor are marked with
// the only model there was, an example enrolled from a path keeps the path as its original,
// one enrolled by upload has none.
func TestDescriptorVersionsMigration(t *testing.T) {
	for _, driver := range []string{DriverSQLite, DriverMySQL} {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			opts := openers[driver](t)
			opts.Logger = slog.New(slog.DiscardHandler)
			s, err := Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p, err := s.migrator()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 3); err != nil {
				t.Fatal(err)
			}
			desc := make([]float32, DescriptorLen)
			for i := range desc {
				desc[i] = float32(i) / 1000
			}
			enc := EncodeDescriptor(desc)
			hash := sha256.Sum256([]byte("/img/a.jpg"))
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{"INSERT INTO people (id, name, created_at, updated_at) VALUES (1, 'Ann', 1, 1)", nil},
				{"INSERT INTO examples (id, person_id, descriptor, model, source, created_at) VALUES (1, 1, ?, ?, '/known/ann.jpg', 1)", []any{enc, faceAPIModel}},
				{"INSERT INTO examples (id, person_id, descriptor, model, source, created_at) VALUES (2, 1, ?, ?, 'upload:ann2.jpg', 1)", []any{enc, faceAPIModel}},
				{"INSERT INTO images (id, source, source_kind, source_key, key_hash, last_error, status, created_at, updated_at) VALUES (1, '/img/a.jpg', 'path', '/img/a.jpg', ?, '', 'processed', 1, 1)", []any{hash[:]}},
				{"INSERT INTO faces (id, image_id, idx, x, y, w, h, score, landmarks, descriptor, person_id, created_at) VALUES (1, 1, 0, 1, 2, 3, 4, 0.9, '[]', ?, 1, 1)", []any{enc}},
				{"INSERT INTO faces (id, image_id, idx, x, y, w, h, score, landmarks, descriptor, created_at) VALUES (2, 1, 1, 1, 2, 3, 4, 0.9, '[]', NULL, 1)", nil},
			} {
				if _, err := s.db.ExecContext(ctx, q.sql, q.args...); err != nil {
					t.Fatalf("%s: %v", q.sql, err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			exs, err := s.ListExamples(ctx, 1)
			if err != nil || len(exs) != 2 {
				t.Fatalf("examples after the migration: %+v, %v", exs, err)
			}
			if exs[0].Original != "/known/ann.jpg" || exs[1].Original != "" || !slices.Equal(exs[0].Descriptor, desc) || exs[1].Model != faceAPIModel {
				t.Fatalf("examples after the migration: %+v", exs)
			}
			im, err := s.GetImage(ctx, 1)
			if err != nil || len(im.Faces) != 2 || im.Faces[0].Model != faceAPIModel || im.Faces[1].Model != "" || !slices.Equal(im.Faces[0].Descriptor, desc) {
				t.Fatalf("faces after the migration: %+v, %v", im, err)
			}
		})
	}
}

// TestReembedQueries: the rows not of a model come in id order after a checkpoint; a re-embed
// is one conditional update (refused once the row changed), an example's bumps the gallery.
func TestReembedQueries(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ann, _ := s.CreatePerson(ctx, "Ann")
		bob, _ := s.CreatePerson(ctx, "Bob")
		d := make([]float32, DescriptorLen)
		d[0] = 1
		newD := make([]float32, DescriptorLen)
		newD[1] = 1
		var ids []int64
		for _, ne := range []NewExample{
			{PersonID: ann.ID, Descriptor: d, Model: "old", Source: "/k/a.jpg", Original: "/k/a.jpg"},
			{PersonID: ann.ID, Descriptor: d, Model: "new", Source: "/k/a2.jpg", Original: "/k/a2.jpg"},
			{PersonID: bob.ID, Descriptor: d, Model: "old", Source: "upload:b.jpg"},
		} {
			ex, err := s.AddExample(ctx, ne)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ex.ID)
		}
		old, err := s.ExamplesNotOfModel(ctx, "new", 0, 10)
		if err != nil || len(old) != 2 || old[0].ID != ids[0] || old[1].ID != ids[2] || old[0].Original != "/k/a.jpg" {
			t.Fatalf("examples not of model new: %+v, %v", old, err)
		}
		if n, err := s.CountExamplesNotOfModel(ctx, "new", ids[0]); err != nil || n != 1 {
			t.Fatalf("count after the first: %d, %v", n, err)
		}
		sum, err := s.StaleExampleSummary(ctx, "new")
		if err != nil || sum.Examples != 2 || sum.NoOriginal != 1 || len(sum.People) != 1 || sum.People[0].ID != bob.ID {
			t.Fatalf("stale summary: %+v, %v", sum, err)
		}
		v0, _ := s.GalleryVersion(ctx)
		if ok, err := s.ReembedExample(ctx, ids[0], "other", newD, "new"); ok || err != nil {
			t.Fatalf("re-embed from the wrong model: %v, %v", ok, err)
		}
		if ok, err := s.ReembedExample(ctx, ids[0], "old", newD, "new"); !ok || err != nil {
			t.Fatalf("re-embed: %v, %v", ok, err)
		}
		if ok, _ := s.ReembedExample(ctx, ids[0], "old", d, "new"); ok {
			t.Fatal("a second re-embed from the old model went through")
		}
		if v1, _ := s.GalleryVersion(ctx); v1 != v0+1 {
			t.Fatalf("gallery version %d → %d, want one bump", v0, v1)
		}
		exs, _ := s.ListExamples(ctx, ann.ID)
		if exs[0].Model != "new" || !slices.Equal(exs[0].Descriptor, newD) {
			t.Fatalf("re-embedded example: %+v", exs[0])
		}

		// Faces record the model given with the outcome.
		sub, err := s.SubmitImages(ctx, []NewImage{{Source: "/img/f.jpg"}})
		if err != nil {
			t.Fatal(err)
		}
		s.ClaimImage(ctx, sub[0].ID, "p", time.Minute)
		if _, err := s.RecordOutcome(ctx, sub[0].ID, "p", Outcome{Faces: []Face{{Box: Box{W: 10, H: 10}, Descriptor: d, Model: "old"}, {Box: Box{X: 20, W: 10, H: 10}}}}); err != nil {
			t.Fatal(err)
		}
		fs, err := s.FacesNotOfModel(ctx, "new", 0, 10)
		if err != nil || len(fs) != 1 || fs[0].Model != "old" || fs[0].ImageSource != "/img/f.jpg" || fs[0].SourceKind != SourcePath {
			t.Fatalf("faces not of model new: %+v, %v", fs, err)
		}
		if ok, err := s.ReembedFace(ctx, fs[0].ID, "old", newD, "new"); !ok || err != nil {
			t.Fatalf("re-embed face: %v, %v", ok, err)
		}
		if n, _ := s.CountFacesNotOfModel(ctx, "new", 0); n != 0 {
			t.Fatalf("%d faces left of another model", n)
		}
		f, _ := s.GetFace(ctx, fs[0].ID)
		if f.Model != "new" || !slices.Equal(f.Descriptor, newD) {
			t.Fatalf("re-embedded face: %+v", f)
		}
	})
}
