package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Person is someone the recognizers know.
type Person struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Examples  int       // enrolment examples (ListPeople, GetPerson)
	Images    int       // images the person was found in (ListPeople, GetPerson)
	LastSeen  time.Time // created_at of the newest such image, the one with the highest id (ids grow with arrival); zero if never
}

// ValidateName checks a person's name: non-empty after trimming, at most MaxNameLen bytes, UTF-8,
// no control characters. It returns the trimmed name.
func ValidateName(name string) (string, error) {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", fmt.Errorf("%w: empty person name", ErrInvalid)
	case len(n) > MaxNameLen:
		return "", fmt.Errorf("%w: person name longer than %d bytes", ErrInvalid, MaxNameLen)
	case !utf8.ValidString(n):
		return "", fmt.Errorf("%w: person name is not valid UTF-8", ErrInvalid)
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: person name contains control characters", ErrInvalid)
		}
	}
	return n, nil
}

// CreatePerson adds a person; ErrConflict if the name is taken.
func (s *Store) CreatePerson(ctx context.Context, name string) (Person, error) {
	n, err := ValidateName(name)
	if err != nil {
		return Person{}, fmt.Errorf("store: create person: %w", err)
	}
	var p Person
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.nowMillis()
		res, err := tx.ExecContext(ctx, "INSERT INTO people (name, created_at, updated_at) VALUES (?, ?, ?)", n, now, now)
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: a person named %q already exists", ErrConflict, n)
			}
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		p = Person{ID: id, Name: n, CreatedAt: time.UnixMilli(now).UTC(), UpdatedAt: time.UnixMilli(now).UTC()}
		return bumpGallery(ctx, tx, id)
	})
	if err != nil {
		return Person{}, fmt.Errorf("store: create person %q: %w", n, err)
	}
	return p, nil
}

// EnsurePerson returns the person with this name, creating it if needed (enrolment from a folder).
func (s *Store) EnsurePerson(ctx context.Context, name string) (Person, error) {
	n, err := ValidateName(name)
	if err != nil {
		return Person{}, fmt.Errorf("store: ensure person: %w", err)
	}
	for range 3 {
		p, err := s.PersonByName(ctx, n)
		if err == nil {
			return p, nil
		}
		if !isNotFound(err) {
			return Person{}, err
		}
		p, err = s.CreatePerson(ctx, n)
		if err == nil {
			return p, nil
		}
		if !isConflict(err) { // lost a race with another creator: read theirs
			return Person{}, err
		}
	}
	return Person{}, fmt.Errorf("store: ensure person %q: %w: created and deleted concurrently", n, ErrConflict)
}

const personColumns = `p.id, p.name, p.created_at, p.updated_at,
	(SELECT COUNT(*) FROM examples e WHERE e.person_id = p.id),
	(SELECT COUNT(*) FROM faces f WHERE f.person_id = p.id),
	(SELECT i.created_at FROM images i WHERE i.id = (SELECT MAX(f.image_id) FROM faces f WHERE f.person_id = p.id))`

func scanPerson(sc scanner) (Person, error) {
	var p Person
	var created, updated, seen sql.NullInt64
	if err := sc.Scan(&p.ID, &p.Name, &created, &updated, &p.Examples, &p.Images, &seen); err != nil {
		return Person{}, err
	}
	p.CreatedAt, p.UpdatedAt, p.LastSeen = fromMillis(created), fromMillis(updated), fromMillis(seen)
	return p, nil
}

// GetPerson returns one person with counts.
func (s *Store) GetPerson(ctx context.Context, id int64) (Person, error) {
	p, err := scanPerson(s.db.QueryRowContext(ctx, "SELECT "+personColumns+" FROM people p WHERE p.id = ?", id))
	if err == sql.ErrNoRows {
		return Person{}, fmt.Errorf("store: person %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Person{}, fmt.Errorf("store: get person %d: %w", id, err)
	}
	return p, nil
}

// PersonByName returns the person with exactly this name.
func (s *Store) PersonByName(ctx context.Context, name string) (Person, error) {
	p, err := scanPerson(s.db.QueryRowContext(ctx, "SELECT "+personColumns+" FROM people p WHERE p.name = ?", strings.TrimSpace(name)))
	if err == sql.ErrNoRows {
		return Person{}, fmt.Errorf("store: person %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Person{}, fmt.Errorf("store: get person %q: %w", name, err)
	}
	return p, nil
}

// ListPeople returns everyone, by name, with counts.
func (s *Store) ListPeople(ctx context.Context) ([]Person, error) {
	rs, err := s.db.QueryContext(ctx, "SELECT "+personColumns+" FROM people p ORDER BY p.name")
	if err != nil {
		return nil, fmt.Errorf("store: list people: %w", err)
	}
	defer rs.Close()
	var out []Person
	for rs.Next() {
		p, err := scanPerson(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list people: %w", err)
		}
		out = append(out, p)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list people: %w", err)
	}
	return out, nil
}

// RenamePerson renames; ErrNotFound, ErrConflict (name taken) or ErrInvalid.
func (s *Store) RenamePerson(ctx context.Context, id int64, name string) error {
	n, err := ValidateName(name)
	if err != nil {
		return fmt.Errorf("store: rename person %d: %w", id, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE people SET name = ?, updated_at = ? WHERE id = ?", n, s.nowMillis(), id)
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: a person named %q already exists", ErrConflict, n)
			}
			return err
		}
		if err := mustExist(ctx, tx, res, "people", id); err != nil {
			return err
		}
		return bumpGallery(ctx, tx, id)
	})
	if err != nil {
		return fmt.Errorf("store: rename person %d to %q: %w", id, n, err)
	}
	return nil
}

// mustExist turns "0 rows affected" into ErrNotFound, telling it apart from "no change" (MySQL
// reports 0 affected rows when the new value equals the old one).
func mustExist(ctx context.Context, tx *sql.Tx, res sql.Result, table string, id int64) error {
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE id = ?", id).Scan(&one)
	if err == sql.ErrNoRows {
		return ErrNotFound
	}
	return err
}

// DeletePerson removes a person with everything recorded about them: their examples go, and
// their faces become unknown (images left without an identified face become unidentified).
func (s *Store) DeletePerson(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := unassignFaces(ctx, tx, s.nowMillis(), "person_id = ?", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM examples WHERE person_id = ?", id); err != nil {
			return fmt.Errorf("delete examples: %w", err)
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM people WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("delete person: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return bumpGallery(ctx, tx, id)
	})
	if err != nil {
		return fmt.Errorf("store: delete person %d: %w", id, err)
	}
	return nil
}

// unassignFaces makes the selected faces unknown (distance cleared) and downgrades their images
// from processed to unidentified when no identified face is left.
func unassignFaces(ctx context.Context, tx *sql.Tx, now int64, cond string, args ...any) error {
	imgs, err := queryIDs(ctx, tx, "SELECT DISTINCT image_id FROM faces WHERE "+cond, args...)
	if err != nil {
		return fmt.Errorf("find faces: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE faces SET person_id = NULL, distance = NULL WHERE "+cond, args...); err != nil {
		return fmt.Errorf("unassign faces: %w", err)
	}
	return inChunks(imgs, func(in string, ids []any) error {
		// updated_at moves for every touched image: the UI's live updates follow it.
		if _, err := tx.ExecContext(ctx, `UPDATE images SET updated_at = ?,
			status = CASE WHEN status = 'processed' AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.image_id = images.id AND f.person_id IS NOT NULL)
			              THEN 'unidentified' ELSE status END
			WHERE id IN (`+in+`)`, append([]any{now}, ids...)...); err != nil {
			return fmt.Errorf("update image statuses: %w", err)
		}
		return nil
	})
}

// MergePeople moves everything of person from into person into and deletes from (two names
// that turned out to be one person). In an image where both were found, from's face becomes
// unknown (a person is assigned at most once per image).
func (s *Store) MergePeople(ctx context.Context, into, from int64) error {
	if into == from {
		return fmt.Errorf("store: merge person %d into itself: %w", from, ErrInvalid)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range []int64{into, from} {
			var one int
			if err := tx.QueryRowContext(ctx, "SELECT 1 FROM people WHERE id = ?"+s.forUpdate(), id).Scan(&one); err == sql.ErrNoRows {
				return fmt.Errorf("person %d: %w", id, ErrNotFound)
			} else if err != nil {
				return err
			}
		}
		// Images where both were found: from's face there becomes unknown.
		shared, err := queryIDs(ctx, tx, "SELECT a.image_id FROM faces a JOIN faces b ON b.image_id = a.image_id WHERE a.person_id = ? AND b.person_id = ?", from, into)
		if err != nil {
			return fmt.Errorf("find shared images: %w", err)
		}
		if err := inChunks(shared, func(in string, ids []any) error {
			return unassignFaces(ctx, tx, s.nowMillis(), "person_id = ? AND image_id IN ("+in+")", append([]any{from}, ids...)...)
		}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE images SET updated_at = ? WHERE id IN (SELECT image_id FROM faces WHERE person_id = ?)", s.nowMillis(), from); err != nil {
			return fmt.Errorf("touch images: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE faces SET person_id = ? WHERE person_id = ?", into, from); err != nil {
			return fmt.Errorf("move faces: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE examples SET person_id = ? WHERE person_id = ?", into, from); err != nil {
			return fmt.Errorf("move examples: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM people WHERE id = ?", from); err != nil {
			return fmt.Errorf("delete merged person: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE people SET updated_at = ? WHERE id = ?", s.nowMillis(), into); err != nil {
			return err
		}
		return bumpGallery(ctx, tx, into, from)
	})
	if err != nil {
		return fmt.Errorf("store: merge person %d into %d: %w", from, into, err)
	}
	return nil
}

// Example is an enrolment example: one descriptor of a known person.
type Example struct {
	ID         int64
	PersonID   int64
	Person     string // the person's name
	Descriptor []float32
	Model      string // the model version that computed Descriptor
	Source     string // where it came from (file path, blob URL, "face:<id>")
	// Original is the photo it was described from, kept so that a newer model can describe it
	// again (`facecluster reembed`): an absolute file path (folder enrolment, a path under the
	// image root) or a blob key of the uploaded photo; "" when not kept (uploads enrolled before
	// originals were kept, examples taken from a face: that face's image is theirs).
	Original  string
	FaceID    int64 // the face it was taken from, 0 if none (or that face was reprocessed away)
	CreatedAt time.Time
}

// NewExample is an example to add.
type NewExample struct {
	PersonID   int64
	Descriptor []float32
	Model      string
	Source     string
	Original   string // optional: the photo's path or blob key (Example.Original)
	FaceID     int64  // optional
}

// AddExample enrols one descriptor for a person. ErrNotFound if the person (or face) does not exist.
func (s *Store) AddExample(ctx context.Context, ne NewExample) (Example, error) {
	if err := validDescriptor(ne.Descriptor); err != nil {
		return Example{}, fmt.Errorf("store: add example: %w", err)
	}
	if strings.TrimSpace(ne.Model) == "" || len(ne.Model) > 255 {
		return Example{}, fmt.Errorf("store: add example: %w: model version required (at most 255 bytes)", ErrInvalid)
	}
	if len(ne.Source) > MaxSourceLen || !utf8.ValidString(ne.Source) {
		return Example{}, fmt.Errorf("store: add example: %w: source must be UTF-8 of at most %d bytes", ErrInvalid, MaxSourceLen)
	}
	if len(ne.Original) > MaxSourceLen || !utf8.ValidString(ne.Original) {
		return Example{}, fmt.Errorf("store: add example: %w: original must be UTF-8 of at most %d bytes", ErrInvalid, MaxSourceLen)
	}
	var ex Example
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var name string
		if err := tx.QueryRowContext(ctx, "SELECT name FROM people WHERE id = ?"+s.forUpdate(), ne.PersonID).Scan(&name); err == sql.ErrNoRows {
			return fmt.Errorf("person %d: %w", ne.PersonID, ErrNotFound)
		} else if err != nil {
			return err
		}
		var face any
		if ne.FaceID != 0 {
			var one int
			if err := tx.QueryRowContext(ctx, "SELECT 1 FROM faces WHERE id = ?", ne.FaceID).Scan(&one); err == sql.ErrNoRows {
				return fmt.Errorf("face %d: %w", ne.FaceID, ErrNotFound)
			} else if err != nil {
				return err
			}
			face = ne.FaceID
		}
		now := s.nowMillis()
		var original any
		if ne.Original != "" {
			original = ne.Original
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO examples (person_id, descriptor, model, source, original, face_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			ne.PersonID, EncodeDescriptor(ne.Descriptor), ne.Model, ne.Source, original, face, now)
		if err != nil {
			return fmt.Errorf("insert example: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		ex = Example{ID: id, PersonID: ne.PersonID, Person: name, Descriptor: append([]float32(nil), ne.Descriptor...),
			Model: ne.Model, Source: ne.Source, Original: ne.Original, FaceID: ne.FaceID, CreatedAt: time.UnixMilli(now).UTC()}
		return bumpGallery(ctx, tx, ne.PersonID)
	})
	if err != nil {
		return Example{}, fmt.Errorf("store: add example for person %d: %w", ne.PersonID, err)
	}
	return ex, nil
}

// HasExample reports whether the person already has an example from source (so that enrolling
// the same known-people folder at every start adds nothing twice).
func (s *Store) HasExample(ctx context.Context, personID int64, source string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM examples WHERE person_id = ? AND source = ?", personID, source).Scan(&n); err != nil {
		return false, fmt.Errorf("store: look up example: %w", err)
	}
	return n > 0, nil
}

// RemoveExample deletes one example; ErrNotFound if it does not exist.
func (s *Store) RemoveExample(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var personID int64
		if err := tx.QueryRowContext(ctx, "SELECT person_id FROM examples WHERE id = ?"+s.forUpdate(), id).Scan(&personID); err == sql.ErrNoRows {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM examples WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return bumpGallery(ctx, tx, personID)
	})
	if err != nil {
		return fmt.Errorf("store: remove example %d: %w", id, err)
	}
	return nil
}

const exampleColumns = "e.id, e.person_id, p.name, e.descriptor, e.model, e.source, e.original, e.face_id, e.created_at"

func scanExample(sc scanner) (Example, error) {
	var ex Example
	var desc []byte
	var face, created sql.NullInt64
	var original sql.NullString
	if err := sc.Scan(&ex.ID, &ex.PersonID, &ex.Person, &desc, &ex.Model, &ex.Source, &original, &face, &created); err != nil {
		return Example{}, err
	}
	d, err := DecodeDescriptor(desc)
	if err != nil {
		return Example{}, fmt.Errorf("example %d: %w", ex.ID, err)
	}
	ex.Descriptor, ex.Original, ex.FaceID, ex.CreatedAt = d, original.String, face.Int64, fromMillis(created)
	return ex, nil
}

func queryExamples(ctx context.Context, q querier, where string, args ...any) ([]Example, error) {
	rs, err := q.QueryContext(ctx, "SELECT "+exampleColumns+" FROM examples e JOIN people p ON p.id = e.person_id "+where+" ORDER BY e.id", args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Example
	for rs.Next() {
		ex, err := scanExample(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, ex)
	}
	return out, rs.Err()
}

// ListExamples returns a person's examples, oldest first (ErrNotFound if the person does not exist).
func (s *Store) ListExamples(ctx context.Context, personID int64) ([]Example, error) {
	if _, err := s.GetPerson(ctx, personID); err != nil {
		return nil, err
	}
	out, err := queryExamples(ctx, s.db, "WHERE e.person_id = ?", personID)
	if err != nil {
		return nil, fmt.Errorf("store: list examples of person %d: %w", personID, err)
	}
	return out, nil
}

// GalleryVersion is bumped by every change to people or examples; recognizers poll it.
func (s *Store) GalleryVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, "SELECT version FROM gallery_state WHERE id = 1").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: gallery version: %w", err)
	}
	return v, nil
}

// LoadGallery returns every example (with person names) and the gallery version they belong to,
// read in one transaction so the pair is consistent.
func (s *Store) LoadGallery(ctx context.Context) (version int64, examples []Example, err error) {
	// Read-only: a snapshot on MySQL, a deferred (lock-free under WAL) transaction on SQLite.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, fmt.Errorf("store: load gallery: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "SELECT version FROM gallery_state WHERE id = 1").Scan(&version); err != nil {
		return 0, nil, fmt.Errorf("store: load gallery: %w", err)
	}
	if examples, err = queryExamples(ctx, tx, ""); err != nil {
		return 0, nil, fmt.Errorf("store: load gallery: %w", err)
	}
	return version, examples, nil
}

// GalleryRow is one example as StreamGallery reads it. Its byte slices point into the
// driver's buffers: they are valid only until the callback returns (copy what you keep).
type GalleryRow struct {
	ID, PersonID int64
	Person       []byte // the person's name
	Model        []byte // the model that computed the descriptor ("" if unknown)
	Descriptor   []byte // EncodeDescriptor's format (DecodeDescriptorInto)
}

// StreamGallery reads every example (with person names) in id order, with the gallery version
// they belong to, in one read-only transaction, without holding them all: begin is called once
// with the version and the number of examples (to size the destination), then row for each
// example with a GalleryRow reused from row to row. An error from either callback stops the
// read and is returned. It is LoadGallery for a recognizer whose gallery holds millions of
// descriptors, which would otherwise be held twice, once as a list of Examples.
func (s *Store) StreamGallery(ctx context.Context, begin func(version int64, count int) error, row func(*GalleryRow) error) error {
	// Read-only: a snapshot on MySQL, a deferred (lock-free under WAL) transaction on SQLite,
	// whose snapshot starts at the first SELECT: the version, the count and the rows agree.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: stream gallery: %w", err)
	}
	defer tx.Rollback()
	var version, count int64
	if err := tx.QueryRowContext(ctx, "SELECT version FROM gallery_state WHERE id = 1").Scan(&version); err != nil {
		return fmt.Errorf("store: stream gallery: %w", err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM examples").Scan(&count); err != nil {
		return fmt.Errorf("store: stream gallery: %w", err)
	}
	if err := begin(version, int(count)); err != nil {
		return err
	}
	// One cursor over the whole table: both drivers hand rows over as the server (MySQL) or
	// the engine (SQLite) produces them, and sql.RawBytes scans without copying. MariaDB would
	// rather read people first (by the name index) and sort every joined row, blobs included,
	// into id order in a temporary table; STRAIGHT_JOIN makes it walk examples in primary-key
	// order and look each person up by id instead (no sort, nothing held on the server).
	join := ""
	if s.driver == DriverMySQL {
		join = "STRAIGHT_JOIN "
	}
	rs, err := tx.QueryContext(ctx, "SELECT "+join+"e.id, e.person_id, p.name, e.model, e.descriptor FROM examples e JOIN people p ON p.id = e.person_id ORDER BY e.id")
	if err != nil {
		return fmt.Errorf("store: stream gallery: %w", err)
	}
	defer rs.Close()
	var r GalleryRow
	var name, model, desc sql.RawBytes
	for rs.Next() {
		if err := rs.Scan(&r.ID, &r.PersonID, &name, &model, &desc); err != nil {
			return fmt.Errorf("store: stream gallery: %w", err)
		}
		r.Person, r.Model, r.Descriptor = name, model, desc
		if err := row(&r); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("store: stream gallery: %w", err)
	}
	return nil
}

// GalleryDelta is what changed in the gallery after a version (GalleryChanges).
type GalleryDelta struct {
	// Version is the version the delta brings a gallery to.
	Version int64
	// Full: the change log does not reach back to the version asked for (or too much changed):
	// load the whole gallery instead (LoadGallery). People and Examples are then empty.
	Full bool
	// People whose examples changed, deleted ones included; Examples are all the current
	// examples of those people (with their names), in id order.
	People   []int64
	Examples []Example
}

// maxDeltaPeople bounds a delta: past that many changed people a full load is as cheap.
const maxDeltaPeople = 20_000

// GalleryChanges returns what changed after version since, read in one transaction so that
// the version and the examples agree. A recognizer applies it with gallery.ReplacePeople.
func (s *Store) GalleryChanges(ctx context.Context, since int64) (GalleryDelta, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return GalleryDelta{}, fmt.Errorf("store: gallery changes: %w", err)
	}
	defer tx.Rollback()
	var d GalleryDelta
	var from int64
	if err := tx.QueryRowContext(ctx, "SELECT version, changes_from FROM gallery_state WHERE id = 1").Scan(&d.Version, &from); err != nil {
		return GalleryDelta{}, fmt.Errorf("store: gallery changes: %w", err)
	}
	if since < from || since > d.Version {
		d.Full = true // pruned, or a gallery from another database
		return d, nil
	}
	if since == d.Version {
		return d, nil
	}
	rs, err := tx.QueryContext(ctx, "SELECT DISTINCT person_id FROM gallery_changes WHERE version > ? AND version <= ? ORDER BY person_id", since, d.Version)
	if err != nil {
		return GalleryDelta{}, fmt.Errorf("store: gallery changes: %w", err)
	}
	for rs.Next() {
		var p int64
		if err := rs.Scan(&p); err != nil {
			rs.Close()
			return GalleryDelta{}, fmt.Errorf("store: gallery changes: %w", err)
		}
		d.People = append(d.People, p)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return GalleryDelta{}, fmt.Errorf("store: gallery changes: %w", err)
	}
	if len(d.People) > maxDeltaPeople {
		return GalleryDelta{Version: d.Version, Full: true}, nil
	}
	for lo := 0; lo < len(d.People); lo += 500 {
		chunk := d.People[lo:min(lo+500, len(d.People))]
		args := make([]any, len(chunk))
		for i, p := range chunk {
			args[i] = p
		}
		ex, err := queryExamples(ctx, tx, "WHERE e.person_id IN ("+placeholders(len(chunk))+")", args...)
		if err != nil {
			return GalleryDelta{}, fmt.Errorf("store: gallery changes: %w", err)
		}
		d.Examples = append(d.Examples, ex...)
	}
	return d, nil
}
