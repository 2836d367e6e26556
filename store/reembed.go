package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Descriptor versions: examples and faces record the model version that computed their
// descriptor. After an upgrade that changes it, `facecluster reembed` walks the rows of any other
// version in id order (these queries) and describes them again from their originals, one
// conditional update each.

// ExamplesNotOfModel returns up to limit examples whose model is not model, with ids above
// afterID, in id order.
func (s *Store) ExamplesNotOfModel(ctx context.Context, model string, afterID int64, limit int) ([]Example, error) {
	rs, err := s.db.QueryContext(ctx, "SELECT "+exampleColumns+" FROM examples e JOIN people p ON p.id = e.person_id WHERE e.model <> ? AND e.id > ? ORDER BY e.id LIMIT ?",
		model, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: examples not of model %q: %w", model, err)
	}
	defer rs.Close()
	var out []Example
	for rs.Next() {
		ex, err := scanExample(rs)
		if err != nil {
			return nil, fmt.Errorf("store: examples not of model %q: %w", model, err)
		}
		out = append(out, ex)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: examples not of model %q: %w", model, err)
	}
	return out, nil
}

// CountExamplesNotOfModel counts the examples whose model is not model, with ids above afterID.
func (s *Store) CountExamplesNotOfModel(ctx context.Context, model string, afterID int64) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM examples WHERE model <> ? AND id > ?", model, afterID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count examples not of model %q: %w", model, err)
	}
	return n, nil
}

// ReembedExample replaces example id's descriptor by one of model, if its model still is
// fromModel (one conditional update, with the gallery version bumped in the same transaction).
// It reports false when the example is gone or was changed meanwhile.
func (s *Store) ReembedExample(ctx context.Context, id int64, fromModel string, descriptor []float32, model string) (bool, error) {
	if err := validDescriptor(descriptor); err != nil {
		return false, fmt.Errorf("store: re-embed example %d: %w", id, err)
	}
	if model == "" || len(model) > 255 {
		return false, fmt.Errorf("store: re-embed example %d: %w: model version required (at most 255 bytes)", id, ErrInvalid)
	}
	done := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var personID int64
		err := tx.QueryRowContext(ctx, "SELECT person_id FROM examples WHERE id = ? AND model = ?"+s.forUpdate(), id, fromModel).Scan(&personID)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "UPDATE examples SET descriptor = ?, model = ? WHERE id = ? AND model = ?", EncodeDescriptor(descriptor), model, id, fromModel)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		done = true
		return bumpGallery(ctx, tx, personID)
	})
	if err != nil {
		return false, fmt.Errorf("store: re-embed example %d: %w", id, err)
	}
	return done, nil
}

// FaceOriginal is a face with the image it was found in (its original).
type FaceOriginal struct {
	Face
	ImageSource string
	SourceKind  SourceKind
}

// FacesNotOfModel returns up to limit faces with a descriptor whose model is not model, with
// ids above afterID, in id order, each with its image's source.
func (s *Store) FacesNotOfModel(ctx context.Context, model string, afterID int64, limit int) ([]FaceOriginal, error) {
	rs, err := s.db.QueryContext(ctx, "SELECT "+faceColumns+", i.source, i.source_kind FROM faces f LEFT JOIN people p ON p.id = f.person_id JOIN images i ON i.id = f.image_id"+
		" WHERE f.descriptor IS NOT NULL AND f.model <> ? AND f.id > ? ORDER BY f.id LIMIT ?", model, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: faces not of model %q: %w", model, err)
	}
	defer rs.Close()
	var out []FaceOriginal
	for rs.Next() {
		var fo FaceOriginal
		var kind string
		f, err := scanFace(rs, &fo.ImageSource, &kind)
		if err != nil {
			return nil, fmt.Errorf("store: faces not of model %q: %w", model, err)
		}
		fo.Face, fo.SourceKind = f, SourceKind(kind)
		out = append(out, fo)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: faces not of model %q: %w", model, err)
	}
	return out, nil
}

// CountFacesNotOfModel counts the faces with a descriptor whose model is not model, with ids
// above afterID.
func (s *Store) CountFacesNotOfModel(ctx context.Context, model string, afterID int64) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM faces WHERE descriptor IS NOT NULL AND model <> ? AND id > ?", model, afterID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count faces not of model %q: %w", model, err)
	}
	return n, nil
}

// ReembedFace replaces face id's descriptor by one of model, if its model still is fromModel
// (one conditional update). It reports false when the face is gone (its image was processed
// again) or was changed meanwhile. The face's match is left as it is: it was made by the old
// model's gallery, and is what the user saw.
func (s *Store) ReembedFace(ctx context.Context, id int64, fromModel string, descriptor []float32, model string) (bool, error) {
	if err := validDescriptor(descriptor); err != nil {
		return false, fmt.Errorf("store: re-embed face %d: %w", id, err)
	}
	if model == "" || len(model) > 255 {
		return false, fmt.Errorf("store: re-embed face %d: %w: model version required (at most 255 bytes)", id, ErrInvalid)
	}
	res, err := s.db.ExecContext(ctx, "UPDATE faces SET descriptor = ?, model = ? WHERE id = ? AND model = ? AND descriptor IS NOT NULL",
		EncodeDescriptor(descriptor), model, id, fromModel)
	if err != nil {
		return false, fmt.Errorf("store: re-embed face %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// StaleExamples summarises the examples whose model is not model: how many, how many of
// them have no original to be described again from (they need re-enrolling), and the people
// all of whose examples are of another model (no recognizer of model can recognise them).
type StaleExamples struct {
	Examples   int64
	NoOriginal int64
	People     []PersonName // everyone with examples, none of them of model (by name, at most 1000)
}

// StaleExampleSummary counts the examples not of model (StaleExamples).
func (s *Store) StaleExampleSummary(ctx context.Context, model string) (StaleExamples, error) {
	var st StaleExamples
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN (original IS NULL OR original = '') AND face_id IS NULL THEN 1 ELSE 0 END), 0)
		FROM examples WHERE model <> ?`, model).Scan(&st.Examples, &st.NoOriginal); err != nil {
		return StaleExamples{}, fmt.Errorf("store: stale examples: %w", err)
	}
	if st.Examples == 0 {
		return st, nil
	}
	rs, err := s.db.QueryContext(ctx, `SELECT p.id, p.name FROM people p
		WHERE EXISTS (SELECT 1 FROM examples e WHERE e.person_id = p.id)
		  AND NOT EXISTS (SELECT 1 FROM examples e WHERE e.person_id = p.id AND e.model = ?)
		ORDER BY p.name LIMIT 1000`, model)
	if err != nil {
		return StaleExamples{}, fmt.Errorf("store: stale examples: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var p PersonName
		if err := rs.Scan(&p.ID, &p.Name); err != nil {
			return StaleExamples{}, fmt.Errorf("store: stale examples: %w", err)
		}
		st.People = append(st.People, p)
	}
	if err := rs.Err(); err != nil {
		return StaleExamples{}, fmt.Errorf("store: stale examples: %w", err)
	}
	return st, nil
}
