package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/store"
)

// benchImages is how many images BenchmarkImagesPage puts in the database.
const benchImages = 1_000_000

// seedMillion fills a SQLite store with benchImages images (one face each, a tenth of them of
// one of 100 people, a few failed) using set-based INSERTs, which take seconds rather than the
// minutes a million SubmitImages calls would.
func seedMillion(b *testing.B) (*store.Store, time.Time) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(b.TempDir(), "million.db"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db := st.DB()
	start := time.Now()
	stmts := []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
		 INSERT INTO people (name, created_at, updated_at) SELECT 'person ' || i, 0, 0 FROM n`,
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
		 INSERT INTO images (source, source_kind, source_key, key_hash, camera, width, height, status, attempts, last_error, created_at, updated_at, processed_at)
		 SELECT '/cams/door-' || (i %% 7) || '/' || i || '.jpg', 'path', '/cams/door-' || (i %% 7) || '/' || i || '.jpg', randomblob(32),
		        'door-' || (i %% 7), 1920, 1080,
		        CASE WHEN i %% 1000 = 0 THEN 'failed' WHEN i %% 10 = 0 THEN 'processed' WHEN i %% 3 = 0 THEN 'no_faces' ELSE 'unidentified' END,
		        1, CASE WHEN i %% 1000 = 0 THEN 'decode: corrupt JPEG' ELSE '' END,
		        %d + i * 1000, %d + i * 1000 + 400, %d + i * 1000 + 400
		 FROM n`, benchImages, base.UnixMilli(), base.UnixMilli(), base.UnixMilli()),
		`INSERT INTO faces (image_id, idx, x, y, w, h, score, landmarks, person_id, distance, created_at)
		 SELECT id, 0, 600, 300, 180, 220, 0.97, '[]', CASE WHEN id % 10 = 0 THEN 1 + (id / 10) % 100 END,
		        CASE WHEN id % 10 = 0 THEN 0.41 ELSE 0.72 END, created_at
		 FROM images WHERE status IN ('processed', 'unidentified')`,
		`ANALYZE`,
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	b.Logf("seeded %d images in %v", benchImages, time.Since(start).Round(time.Millisecond))
	return st, base
}

// BenchmarkImagesPage measures the images page rendered server-side (store queries, templates,
// no network) over a million images: first page, a deep page, and filtered pages.
func BenchmarkImagesPage(b *testing.B) {
	st, base := seedMillion(b)
	srv, err := New(Options{CacheDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}, Deps{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	mux := http.NewServeMux()
	srv.Register(mux)
	// A cursor half-way through: keyset pagination must make page 10 000 as cheap as page 1.
	mid, err := st.ListImages(context.Background(), store.ImageFilter{To: base.Add(benchImages / 2 * time.Second), Limit: 1})
	if err != nil || mid.NextCursor == "" {
		b.Fatalf("middle cursor: %v", err)
	}
	from := base.Add(300000 * time.Second).Format(inputTime)
	to := base.Add(300600 * time.Second).Format(inputTime)
	for _, bc := range []struct{ name, url string }{
		{"first", "/"},
		{"deep", "/?cursor=" + mid.NextCursor},
		{"status", "/?status=failed"},
		{"person", "/?person=42"},
		{"timerange", "/?from=" + from + "&to=" + to},
		// The other pages over the same million images, for comparison (no goal set for them).
		{"other/image", fmt.Sprintf("/images/%d", benchImages/2)},
		{"other/people", "/people"},
		{"other/person", "/people/42"},
		{"other/unknown", "/unknown"},
		{"other/status", "/status"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest("GET", bc.url, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: status %d: %s", bc.url, rec.Code, rec.Body.String())
				}
			}
			// CPU time is what the render costs; wall time on a shared machine includes waiting.
			b.ReportMetric(float64((testutil.CPUTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}
