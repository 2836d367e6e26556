package store

// Queries the web UI needs beyond the pipeline's: live-update polling and the status page's numbers.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ImageChange is an image whose row changed (status, faces, retry…).
type ImageChange struct {
	ID        int64
	Status    Status
	UpdatedAt time.Time
}

// ImagesChangedSince returns up to limit images changed at since with an id above afterID, or
// after since, oldest change first (by updated_at, then id: pass the last row's to read on — a
// bulk submit gives thousands of images one updated_at). It is served by the
// (status, updated_at) index, so polling it every second stays cheap at millions of images.
func (s *Store) ImagesChangedSince(ctx context.Context, since time.Time, afterID int64, limit int) ([]ImageChange, error) {
	if limit <= 0 {
		limit = 500
	}
	args := make([]any, 0, len(Statuses)+4)
	for _, st := range Statuses {
		args = append(args, string(st))
	}
	ms := since.UnixMilli()
	args = append(args, ms, ms, afterID, limit)
	rs, err := s.db.QueryContext(ctx, "SELECT id, status, updated_at FROM images WHERE status IN ("+placeholders(len(Statuses))+
		") AND updated_at >= ? AND (updated_at > ? OR id > ?) ORDER BY updated_at, id LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("store: changed images: %w", err)
	}
	defer rs.Close()
	var out []ImageChange
	for rs.Next() {
		var c ImageChange
		var st string
		var ms sql.NullInt64
		if err := rs.Scan(&c.ID, &st, &ms); err != nil {
			return nil, fmt.Errorf("store: changed images: %w", err)
		}
		c.Status, c.UpdatedAt = Status(st), fromMillis(ms)
		out = append(out, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: changed images: %w", err)
	}
	return out, nil
}

// CountImagesWithStatus counts the images in one status, stopping at upTo (0: no bound) so that
// a page showing "1000+ failed" stays fast however many there are.
func (s *Store) CountImagesWithStatus(ctx context.Context, st Status, upTo int64) (int64, error) {
	if !st.Valid() {
		return 0, fmt.Errorf("store: count images: %w: unknown status %q", ErrInvalid, st)
	}
	if upTo <= 0 {
		upTo = 1 << 62
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM images WHERE status = ? LIMIT ?) bounded", string(st), upTo).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count %s images: %w", st, err)
	}
	return n, nil
}

// PersonName is a person's id and name only.
type PersonName struct {
	ID   int64
	Name string
}

// PeopleNames lists everyone by name without counting what is recorded about them (ListPeople
// counts faces per person, too slow for a filter menu on every page at millions of faces).
func (s *Store) PeopleNames(ctx context.Context) ([]PersonName, error) {
	rs, err := s.db.QueryContext(ctx, "SELECT id, name FROM people ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: people names: %w", err)
	}
	defer rs.Close()
	var out []PersonName
	for rs.Next() {
		var p PersonName
		if err := rs.Scan(&p.ID, &p.Name); err != nil {
			return nil, fmt.Errorf("store: people names: %w", err)
		}
		out = append(out, p)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: people names: %w", err)
	}
	return out, nil
}

// FinishedImage is one image whose processing ended.
type FinishedImage struct {
	Status      Status
	CreatedAt   time.Time
	ProcessedAt time.Time
}

// FinishedSince returns up to limit images that reached a final status since t (newest first),
// for throughput and latency on the status page.
func (s *Store) FinishedSince(ctx context.Context, since time.Time, limit int) ([]FinishedImage, error) {
	if limit <= 0 {
		limit = 100000
	}
	rs, err := s.db.QueryContext(ctx, `SELECT status, created_at, processed_at FROM images
		WHERE status IN ('processed', 'unidentified', 'no_faces', 'failed') AND updated_at >= ? AND processed_at IS NOT NULL
		ORDER BY updated_at DESC LIMIT ?`, since.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: finished images: %w", err)
	}
	defer rs.Close()
	var out []FinishedImage
	for rs.Next() {
		var f FinishedImage
		var st string
		var c, p sql.NullInt64
		if err := rs.Scan(&st, &c, &p); err != nil {
			return nil, fmt.Errorf("store: finished images: %w", err)
		}
		f.Status, f.CreatedAt, f.ProcessedAt = Status(st), fromMillis(c), fromMillis(p)
		out = append(out, f)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: finished images: %w", err)
	}
	return out, nil
}
