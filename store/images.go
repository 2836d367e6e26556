package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is an image's processing state.
type Status string

// The image lifecycle: pending → processing → one of the final statuses.
const (
	StatusPending      Status = "pending"
	StatusProcessing   Status = "processing"
	StatusProcessed    Status = "processed"    // at least one face identified
	StatusUnidentified Status = "unidentified" // faces, none known
	StatusNoFaces      Status = "no_faces"
	StatusFailed       Status = "failed" // permanent error or attempts exhausted
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusPending, StatusProcessing, StatusProcessed, StatusUnidentified, StatusNoFaces, StatusFailed}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Final reports whether processing is over for an image in this status.
func (s Status) Final() bool {
	return s == StatusProcessed || s == StatusUnidentified || s == StatusNoFaces || s == StatusFailed
}

// ParseStatus validates a status given by a user.
func ParseStatus(v string) (Status, error) {
	s := Status(strings.TrimSpace(v))
	if !s.Valid() {
		return "", fmt.Errorf("%w: unknown status %q (want one of %v)", ErrInvalid, v, Statuses)
	}
	return s, nil
}

// SourceKind says where an image's bytes come from.
type SourceKind string

const (
	SourcePath   SourceKind = "path"   // a file under the image root
	SourceUpload SourceKind = "upload" // uploaded, kept in blob storage (Source is the blob URL)
	SourceURL    SourceKind = "url"    // a URL of the blob storage
)

// Limits on stored strings (checked before anything is written).
const (
	MaxSourceLen = 4096
	MaxCameraLen = 255
	MaxNameLen   = 255
	// DescriptorLen is the length of a face descriptor (FaceRecognitionNet's 128-d embedding).
	DescriptorLen = 128
)

// NewImage is one image to submit.
type NewImage struct {
	Source string     // path, blob URL or URL
	Kind   SourceKind // defaults to SourcePath
	// Key dedupes submissions: the same key yields the same image. Empty means Source
	// (for SourcePath the path is cleaned first, so "a//b" and "a/b" are one image); an
	// upload passes its Idempotency-Key (or content hash) here.
	Key         string
	Camera      string
	ContentHash string
	Width       int
	Height      int
}

// Submitted is the outcome of submitting one NewImage.
type Submitted struct {
	ID      int64
	Key     string
	Created bool   // false when the key was already known (then Status is the existing image's)
	Status  Status // status at the time of the call
}

// Box is a face's bounding box in original image pixels.
type Box struct{ X, Y, W, H float64 }

// Point is a landmark in original image pixels.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Face is one face found in an image.
type Face struct {
	ID         int64
	ImageID    int64
	Idx        int // position in the image's face list (0-based)
	Box        Box
	Score      float64
	Landmarks  []Point
	Descriptor []float32 // DescriptorLen values, or nil
	Model      string    // the model version that computed Descriptor ("" when it has none)
	PersonID   int64     // 0: unknown
	Person     string    // the person's name when PersonID != 0
	Distance   float64   // distance to the matched (or nearest) person; NaN when none was computed
	CreatedAt  time.Time
}

// Known reports whether the face was matched to a person.
func (f Face) Known() bool { return f.PersonID != 0 }

// Image is a submitted image with its processing state.
type Image struct {
	ID             int64
	Source         string
	SourceKind     SourceKind
	SourceKey      string
	Camera         string
	ContentHash    string
	Width, Height  int
	Status         Status
	Attempts       int
	LastError      string
	LeaseOwner     string
	LeaseExpiresAt time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ProcessedAt    time.Time
	Faces          []Face // filled by GetImage, and by ListImages with WithFaces
}

// DedupeKey returns the key a NewImage is deduplicated by.
func (n NewImage) DedupeKey() string {
	if n.Key != "" {
		return n.Key
	}
	if n.Kind == SourcePath || n.Kind == "" {
		return path.Clean(n.Source)
	}
	return n.Source
}

// Validate checks a NewImage as SubmitImages will (filling in the default Kind).
func (n *NewImage) Validate() error { return n.validate() }

func (n *NewImage) validate() error {
	if n.Kind == "" {
		n.Kind = SourcePath
	}
	switch n.Kind {
	case SourcePath, SourceUpload, SourceURL:
	default:
		return fmt.Errorf("%w: unknown source kind %q", ErrInvalid, n.Kind)
	}
	if strings.TrimSpace(n.Source) == "" {
		return fmt.Errorf("%w: empty image source", ErrInvalid)
	}
	for name, v := range map[string]string{"source": n.Source, "key": n.Key, "camera": n.Camera, "content hash": n.ContentHash} {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return fmt.Errorf("%w: image %s is not valid UTF-8 text", ErrInvalid, name)
		}
	}
	if len(n.Source) > MaxSourceLen || len(n.Key) > MaxSourceLen {
		return fmt.Errorf("%w: image source longer than %d bytes", ErrInvalid, MaxSourceLen)
	}
	if len(n.Camera) > MaxCameraLen {
		return fmt.Errorf("%w: camera name longer than %d bytes", ErrInvalid, MaxCameraLen)
	}
	if len(n.ContentHash) > 128 {
		return fmt.Errorf("%w: content hash longer than 128 bytes", ErrInvalid)
	}
	if n.Width < 0 || n.Height < 0 {
		return fmt.Errorf("%w: negative image size", ErrInvalid)
	}
	return nil
}

// submitChunk bounds rows per INSERT (SQLite allows 32766 bound values, MySQL 65535; 11 per row).
const submitChunk = 1000

// SubmitImages records images as pending, idempotently by dedupe key, in one transaction: either
// every image is recorded (or found) or, on any invalid input or error, none is. The result has
// one entry per input in the same order; repeated keys (within the call, in earlier calls or in
// concurrent calls) resolve to one image, created exactly once.
func (s *Store) SubmitImages(ctx context.Context, imgs []NewImage) ([]Submitted, error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	type row struct {
		img  NewImage
		key  string
		hash [sha256.Size]byte
	}
	rows := make([]row, 0, len(imgs))
	seen := make(map[string]int, len(imgs))
	order := make([]int, len(imgs)) // input index → rows index
	for i := range imgs {
		n := imgs[i]
		if err := n.validate(); err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		key := n.DedupeKey()
		if j, ok := seen[key]; ok {
			order[i] = j
			continue
		}
		seen[key] = len(rows)
		order[i] = len(rows)
		rows = append(rows, row{img: n, key: key, hash: sha256.Sum256([]byte(key))})
	}
	// Sorted by the unique index so concurrent MySQL inserts take its locks in the same order
	// (fewer deadlocks).
	sorted := make([]int, len(rows))
	for i := range sorted {
		sorted[i] = i
	}
	slices.SortFunc(sorted, func(a, b int) int { return bytes.Compare(rows[a].hash[:], rows[b].hash[:]) })

	results := make([]Submitted, len(rows))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		token := randomToken()
		now := s.nowMillis()
		byHash := make(map[[sha256.Size]byte]int, len(rows))
		for lo := 0; lo < len(sorted); lo += submitChunk {
			chunk := sorted[lo:min(lo+submitChunk, len(sorted))]
			var sb strings.Builder
			// Columns every row of the chunk leaves at their default (camera, content hash and
			// size: all of them for paths) are left out of the statement: fewer literals for
			// the server to parse, about a third fewer for a bulk of paths.
			plain := true
			for _, ri := range chunk {
				im := &rows[ri].img
				if im.Camera != "" || im.ContentHash != "" || im.Width != 0 || im.Height != 0 {
					plain = false
					break
				}
			}
			args := make([]any, 0, len(chunk)*11)
			if plain {
				sb.WriteString("INSERT INTO images (source, source_kind, source_key, key_hash, submit_batch, last_error, created_at, updated_at) VALUES ")
			} else {
				sb.WriteString("INSERT INTO images (source, source_kind, source_key, key_hash, submit_batch, camera, content_hash, width, height, last_error, created_at, updated_at) VALUES ")
			}
			for k, ri := range chunk {
				if k > 0 {
					sb.WriteString(", ")
				}
				r := &rows[ri]
				if plain {
					sb.WriteString("(?, ?, ?, ?, ?, '', ?, ?)")
					args = append(args, r.img.Source, string(r.img.Kind), r.key, r.hash[:], token, now, now)
				} else {
					sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)")
					args = append(args, r.img.Source, string(r.img.Kind), r.key, r.hash[:], token, r.img.Camera, r.img.ContentHash, r.img.Width, r.img.Height, now, now)
				}
				byHash[r.hash] = ri
			}
			if s.driver == DriverMySQL {
				// Not INSERT IGNORE: that would also turn real errors into warnings.
				sb.WriteString(" ON DUPLICATE KEY UPDATE id = id")
			} else {
				sb.WriteString(" ON CONFLICT (key_hash) DO NOTHING")
			}
			read := func(rs *sql.Rows) error {
				found := 0
				for rs.Next() {
					var id, batch int64
					var hash []byte
					var st string
					if err := rs.Scan(&id, &hash, &batch, &st); err != nil {
						rs.Close()
						return fmt.Errorf("read submitted ids: %w", err)
					}
					if len(hash) != sha256.Size {
						continue
					}
					ri, ok := byHash[[sha256.Size]byte(hash)]
					if !ok {
						continue
					}
					results[ri] = Submitted{ID: id, Key: rows[ri].key, Created: batch == token, Status: Status(st)}
					found++
				}
				rs.Close()
				if err := rs.Err(); err != nil {
					return fmt.Errorf("read submitted ids: %w", err)
				}
				if found != len(chunk) {
					return fmt.Errorf("submit images: %d of %d rows not found after insert", len(chunk)-found, len(chunk))
				}
				return nil
			}
			if s.returning {
				// MariaDB answers every row, new or already there (the existing row's values for
				// a duplicate key), from the insert itself: no second pass over the unique index.
				sb.WriteString(" RETURNING id, key_hash, submit_batch, status")
				rs, err := tx.QueryContext(ctx, sb.String(), args...)
				if err != nil {
					return fmt.Errorf("insert images: %w", err)
				}
				if err := read(rs); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
				return fmt.Errorf("insert images: %w", err)
			}
			hashes := make([]any, len(chunk))
			for k, ri := range chunk {
				hashes[k] = rows[ri].hash[:]
			}
			q := "SELECT id, key_hash, submit_batch, status FROM images WHERE key_hash IN (" + placeholders(len(chunk)) + ")"
			rs, err := tx.QueryContext(ctx, q, hashes...)
			if err != nil {
				return fmt.Errorf("read submitted ids: %w", err)
			}
			if err := read(rs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: submit %d images: %w", len(imgs), err)
	}
	out := make([]Submitted, len(imgs))
	reported := make([]bool, len(rows))
	for i := range imgs {
		out[i] = results[order[i]]
		if reported[order[i]] {
			out[i].Created = false // a repeat within the call: the first occurrence created it
		}
		reported[order[i]] = true
	}
	return out, nil
}

const imageColumns = "i.id, i.source, i.source_kind, i.source_key, i.camera, i.content_hash, i.width, i.height, i.status, i.attempts, i.last_error, i.lease_owner, i.lease_expires_at, i.created_at, i.updated_at, i.processed_at"

type scanner interface{ Scan(dest ...any) error }

func scanImage(sc scanner) (Image, error) {
	var im Image
	var kind, status string
	var owner sql.NullString
	var lease, created, updated, processed sql.NullInt64
	if err := sc.Scan(&im.ID, &im.Source, &kind, &im.SourceKey, &im.Camera, &im.ContentHash, &im.Width, &im.Height,
		&status, &im.Attempts, &im.LastError, &owner, &lease, &created, &updated, &processed); err != nil {
		return Image{}, err
	}
	im.SourceKind, im.Status, im.LeaseOwner = SourceKind(kind), Status(status), owner.String
	im.LeaseExpiresAt, im.CreatedAt, im.UpdatedAt, im.ProcessedAt = fromMillis(lease), fromMillis(created), fromMillis(updated), fromMillis(processed)
	return im, nil
}

// GetImage returns an image with its faces (ordered by Idx, with person names).
func (s *Store) GetImage(ctx context.Context, id int64) (*Image, error) {
	im, err := scanImage(s.db.QueryRowContext(ctx, "SELECT "+imageColumns+" FROM images i WHERE i.id = ?", id))
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("store: image %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get image %d: %w", id, err)
	}
	faces, err := s.facesOf(ctx, []int64{id})
	if err != nil {
		return nil, fmt.Errorf("store: get image %d: %w", id, err)
	}
	im.Faces = faces[id]
	return &im, nil
}

const faceColumns = "f.id, f.image_id, f.idx, f.x, f.y, f.w, f.h, f.score, f.landmarks, f.descriptor, f.model, f.person_id, p.name, f.distance, f.created_at"

func scanFace(sc scanner, extra ...any) (Face, error) {
	var f Face
	var landmarks string
	var desc []byte
	var pid sql.NullInt64
	var name sql.NullString
	var dist sql.NullFloat64
	var created sql.NullInt64
	dest := append([]any{&f.ID, &f.ImageID, &f.Idx, &f.Box.X, &f.Box.Y, &f.Box.W, &f.Box.H, &f.Score, &landmarks, &desc, &f.Model, &pid, &name, &dist, &created}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return Face{}, err
	}
	if landmarks != "" && landmarks != "[]" {
		if err := json.Unmarshal([]byte(landmarks), &f.Landmarks); err != nil {
			return Face{}, fmt.Errorf("face %d landmarks: %w", f.ID, err)
		}
	}
	if desc != nil {
		d, err := DecodeDescriptor(desc)
		if err != nil {
			return Face{}, fmt.Errorf("face %d: %w", f.ID, err)
		}
		f.Descriptor = d
	}
	f.PersonID, f.Person = pid.Int64, name.String
	f.Distance = math.NaN()
	if dist.Valid {
		f.Distance = dist.Float64
	}
	f.CreatedAt = fromMillis(created)
	return f, nil
}

func (s *Store) facesOf(ctx context.Context, imageIDs []int64) (map[int64][]Face, error) {
	out := make(map[int64][]Face, len(imageIDs))
	if len(imageIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(imageIDs))
	for i, id := range imageIDs {
		args[i] = id
	}
	rs, err := s.db.QueryContext(ctx, "SELECT "+faceColumns+" FROM faces f LEFT JOIN people p ON p.id = f.person_id WHERE f.image_id IN ("+placeholders(len(args))+") ORDER BY f.image_id, f.idx", args...)
	if err != nil {
		return nil, fmt.Errorf("store: faces of images: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		f, err := scanFace(rs)
		if err != nil {
			return nil, fmt.Errorf("store: faces of images: %w", err)
		}
		out[f.ImageID] = append(out[f.ImageID], f)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: faces of images: %w", err)
	}
	return out, nil
}

// ImageFilter selects images for ListImages. Zero fields do not filter.
type ImageFilter struct {
	Statuses []Status
	PersonID int64 // images in which this person was found
	Camera   string
	From, To time.Time // created_at in [From, To)
	// Cursor continues a previous page (its NextCursor). Pages are newest first by
	// (created_at, id), so rows submitted meanwhile never shift or repeat a later page.
	Cursor    string
	Limit     int  // default 50, at most 1000
	WithFaces bool // fill Image.Faces
}

// ImagePage is one page of ListImages.
type ImagePage struct {
	Images     []Image
	NextCursor string // empty on the last page
}

// MaxPageSize bounds ImageFilter.Limit.
const MaxPageSize = 1000

func encodeCursor(created time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created.UnixMilli(), 10) + ":" + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (ms, id int64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		a, bb, ok := strings.Cut(string(b), ":")
		if ok {
			if ms, err = strconv.ParseInt(a, 10, 64); err == nil {
				if id, err = strconv.ParseInt(bb, 10, 64); err == nil {
					return ms, id, nil
				}
			}
		}
	}
	return 0, 0, fmt.Errorf("%w: malformed cursor %q", ErrInvalid, c)
}

// ListImages returns images newest first, filtered, one page at a time (keyset pagination on
// the (created_at, id) indexes: as fast on page 10 000 as on page 1).
func (s *Store) ListImages(ctx context.Context, f ImageFilter) (ImagePage, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > MaxPageSize {
		f.Limit = MaxPageSize
	}
	var where []string
	var args []any
	from := "images i"
	if f.PersonID != 0 {
		// UNIQUE(image_id, person_id): at most one row per image, no DISTINCT needed.
		from = "faces fp JOIN images i ON i.id = fp.image_id"
		where = append(where, "fp.person_id = ?")
		args = append(args, f.PersonID)
	}
	if len(f.Statuses) > 0 {
		for _, st := range f.Statuses {
			if !st.Valid() {
				return ImagePage{}, fmt.Errorf("store: list images: %w: unknown status %q", ErrInvalid, st)
			}
			args = append(args, string(st))
		}
		where = append(where, "i.status IN ("+placeholders(len(f.Statuses))+")")
	}
	if f.Camera != "" {
		where = append(where, "i.camera = ?")
		args = append(args, f.Camera)
	}
	if !f.From.IsZero() {
		where = append(where, "i.created_at >= ?")
		args = append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		where = append(where, "i.created_at < ?")
		args = append(args, f.To.UnixMilli())
	}
	if f.Cursor != "" {
		ms, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return ImagePage{}, fmt.Errorf("store: list images: %w", err)
		}
		// The leading "created_at <= ?" gives the index a range bound: with the OR alone SQLite
		// walks the index from the newest row, 134 ms for a page half-way through 1M images
		// instead of 5 ms (BenchmarkImagesPage/deep in package web).
		where = append(where, "i.created_at <= ? AND (i.created_at < ? OR i.id < ?)")
		args = append(args, ms, ms, id)
	}
	q := "SELECT " + imageColumns + " FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY i.created_at DESC, i.id DESC LIMIT ?"
	args = append(args, f.Limit+1)
	rs, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return ImagePage{}, fmt.Errorf("store: list images: %w", err)
	}
	defer rs.Close()
	var page ImagePage
	for rs.Next() {
		im, err := scanImage(rs)
		if err != nil {
			return ImagePage{}, fmt.Errorf("store: list images: %w", err)
		}
		page.Images = append(page.Images, im)
	}
	if err := rs.Err(); err != nil {
		return ImagePage{}, fmt.Errorf("store: list images: %w", err)
	}
	rs.Close()
	if len(page.Images) > f.Limit {
		page.Images = page.Images[:f.Limit]
		last := page.Images[len(page.Images)-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	if f.WithFaces && len(page.Images) > 0 {
		ids := make([]int64, len(page.Images))
		for i, im := range page.Images {
			ids[i] = im.ID
		}
		faces, err := s.facesOf(ctx, ids)
		if err != nil {
			return ImagePage{}, err
		}
		for i := range page.Images {
			page.Images[i].Faces = faces[page.Images[i].ID]
		}
	}
	return page, nil
}

// CountByStatus returns how many images are in each status (every status present, zero included).
func (s *Store) CountByStatus(ctx context.Context) (map[Status]int64, error) {
	out := make(map[Status]int64, len(Statuses))
	for _, st := range Statuses {
		out[st] = 0
	}
	rs, err := s.db.QueryContext(ctx, "SELECT status, COUNT(*) FROM images GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("store: count images by status: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var st string
		var n int64
		if err := rs.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("store: count images by status: %w", err)
		}
		out[Status(st)] = n
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: count images by status: %w", err)
	}
	return out, nil
}

// EncodeDescriptor packs a descriptor as little-endian float32s (the BLOB format of the schema).
func EncodeDescriptor(d []float32) []byte {
	b := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// DecodeDescriptor unpacks EncodeDescriptor's format.
func DecodeDescriptor(b []byte) ([]float32, error) {
	if len(b) != 4*DescriptorLen {
		return nil, fmt.Errorf("descriptor blob has %d bytes, want %d", len(b), 4*DescriptorLen)
	}
	d := make([]float32, DescriptorLen)
	return d, DecodeDescriptorInto(d, b)
}

// DecodeDescriptorInto unpacks EncodeDescriptor's format into dst, which must be as long as
// the blob holds values (it allocates nothing, for loading millions of descriptors).
func DecodeDescriptorInto(dst []float32, b []byte) error {
	if len(b) != 4*len(dst) {
		return fmt.Errorf("descriptor blob has %d bytes, want %d", len(b), 4*len(dst))
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return nil
}

func validDescriptor(d []float32) error {
	if len(d) != DescriptorLen {
		return fmt.Errorf("%w: descriptor has %d values, want %d", ErrInvalid, len(d), DescriptorLen)
	}
	for _, v := range d {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: descriptor holds NaN or Inf", ErrInvalid)
		}
	}
	return nil
}
