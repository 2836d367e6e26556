package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Sighting is a face together with the image it was found in.
type Sighting struct {
	Face        Face
	ImageSource string
	Camera      string
	SeenAt      time.Time // the image's created_at
}

// SightingFilter pages through sightings, newest face first.
type SightingFilter struct {
	BeforeID int64 // continue below this face id (the previous page's NextBeforeID); 0: start
	Limit    int   // default 50, at most MaxPageSize
}

func (s *Store) sightings(ctx context.Context, cond string, arg []any, f SightingFilter) ([]Sighting, int64, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > MaxPageSize {
		f.Limit = MaxPageSize
	}
	args := append([]any{}, arg...)
	if f.BeforeID > 0 {
		cond += " AND f.id < ?"
		args = append(args, f.BeforeID)
	}
	args = append(args, f.Limit+1)
	rs, err := s.db.QueryContext(ctx, "SELECT "+faceColumns+", i.source, i.camera, i.created_at FROM faces f LEFT JOIN people p ON p.id = f.person_id JOIN images i ON i.id = f.image_id WHERE "+cond+" ORDER BY f.id DESC LIMIT ?", args...)
	if err != nil {
		return nil, 0, err
	}
	defer rs.Close()
	var out []Sighting
	for rs.Next() {
		var sg Sighting
		var seen sql.NullInt64
		face, err := scanFace(rs, &sg.ImageSource, &sg.Camera, &seen)
		if err != nil {
			return nil, 0, err
		}
		sg.Face, sg.SeenAt = face, fromMillis(seen)
		out = append(out, sg)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].Face.ID
	}
	return out, next, nil
}

// UnknownFaces pages through faces matched to nobody, newest first; next is the BeforeID of the
// following page (0 on the last).
func (s *Store) UnknownFaces(ctx context.Context, f SightingFilter) (faces []Sighting, next int64, err error) {
	// COALESCE keeps the planners off the person_id index: most faces are unknown, so that
	// index would hand over every one of them to be sorted by id, while walking the primary
	// key backwards stops after one page (6 s → milliseconds at a million faces on SQLite).
	faces, next, err = s.sightings(ctx, "COALESCE(f.person_id, 0) = 0", nil, f)
	if err != nil {
		return nil, 0, fmt.Errorf("store: unknown faces: %w", err)
	}
	return faces, next, nil
}

// PersonHistory pages through the faces of one person, newest first: where and when they were
// seen. (ListImages with ImageFilter.PersonID gives the same images ordered by image time.)
func (s *Store) PersonHistory(ctx context.Context, personID int64, f SightingFilter) (faces []Sighting, next int64, err error) {
	faces, next, err = s.sightings(ctx, "f.person_id = ?", []any{personID}, f)
	if err != nil {
		return nil, 0, fmt.Errorf("store: history of person %d: %w", personID, err)
	}
	return faces, next, nil
}

// GetFace returns one face with its person's name.
func (s *Store) GetFace(ctx context.Context, id int64) (Face, error) {
	f, err := scanFace(s.db.QueryRowContext(ctx, "SELECT "+faceColumns+" FROM faces f LEFT JOIN people p ON p.id = f.person_id WHERE f.id = ?", id))
	if err == sql.ErrNoRows {
		return Face{}, fmt.Errorf("store: face %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Face{}, fmt.Errorf("store: get face %d: %w", id, err)
	}
	return f, nil
}

// AssignFace labels a face as personID (0: unknown) by hand, e.g. from the UI. Any other face of
// the same image assigned to that person becomes unknown (a person appears at most once per
// image), and the image's status follows (processed ⇄ unidentified). Assignments do not change
// the gallery; to teach the recognizers, also AddExample with the face's descriptor and FaceID.
func (s *Store) AssignFace(ctx context.Context, faceID, personID int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var imageID int64
		if err := tx.QueryRowContext(ctx, "SELECT image_id FROM faces WHERE id = ?"+s.forUpdate(), faceID).Scan(&imageID); err == sql.ErrNoRows {
			return fmt.Errorf("face %d: %w", faceID, ErrNotFound)
		} else if err != nil {
			return err
		}
		if personID == 0 {
			return unassignFaces(ctx, tx, s.nowMillis(), "id = ?", faceID)
		}
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM people WHERE id = ?", personID).Scan(&one); err == sql.ErrNoRows {
			return fmt.Errorf("person %d: %w", personID, ErrNotFound)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE faces SET person_id = NULL, distance = NULL WHERE image_id = ? AND person_id = ? AND id <> ?", imageID, personID, faceID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE faces SET person_id = ?, distance = NULL WHERE id = ?", personID, faceID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE images SET updated_at = ?, status = CASE WHEN status = 'unidentified' THEN 'processed' ELSE status END WHERE id = ?", s.nowMillis(), imageID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: assign face %d to person %d: %w", faceID, personID, err)
	}
	return nil
}
