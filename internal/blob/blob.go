// Package blob keeps uploaded images in blob storage through gocloud.dev/blob: a local directory
// (file:///dir, the default under the data directory), S3 (s3://bucket?region=…) or GCS
// (gs://bucket). Objects are content-addressed (uploads/<sha256>.<ext>), so storing the same
// bytes twice writes one object and a retried upload is harmless.
//
// An image's Source for kinds "upload" and "url" is a reference Open resolves: an object key
// ("uploads/ab….jpg") or a URL of this bucket ("s3://bucket/uploads/ab….jpg",
// "file:///data/blobs/uploads/ab….jpg"). Processors read the bytes with ReadAll and send them to
// the recognizer.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:///dir
	_ "gocloud.dev/blob/gcsblob"  // gs://bucket
	_ "gocloud.dev/blob/s3blob"   // s3://bucket
	"gocloud.dev/gcerrors"
)

// ErrNotFound: no object for the reference.
var ErrNotFound = errors.New("blob not found")

// ErrForeign: the URL does not belong to this storage.
var ErrForeign = errors.New("URL is not in this blob storage")

// Store is one bucket. Safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	url    *url.URL // the bucket URL without query
}

// Open opens the bucket at rawURL. For file:// URLs the directory is created.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("blob storage URL %q: want file:///dir, s3://bucket or gs://bucket", rawURL)
	}
	if u.Scheme == "file" {
		if err := os.MkdirAll(filepath.FromSlash(u.Path), 0o750); err != nil {
			return nil, fmt.Errorf("blob storage %s: %w", rawURL, err)
		}
		q := u.Query()
		if q.Get("no_tmp_dir") == "" {
			// Write temporary files beside the objects: the rename stays on one file system.
			q.Set("no_tmp_dir", "true")
			u.RawQuery = q.Encode()
		}
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open blob storage %s: %w", rawURL, err)
	}
	base := *u
	base.RawQuery = ""
	return &Store{bucket: b, url: &base}, nil
}

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// URL returns the URL of the object with this key (what a client may submit as an image URL).
func (s *Store) URL(key string) string {
	u := *s.url
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + key
	return u.String()
}

// PutContent stores data under uploads/<sha256>.<ext> (ext like ".jpg") unless that object exists,
// and returns the key and the hex SHA-256.
func (s *Store) PutContent(ctx context.Context, data []byte, ext, contentType string) (key, sum string, err error) {
	h := sha256.Sum256(data)
	sum = hex.EncodeToString(h[:])
	key = "uploads/" + sum[:2] + "/" + sum + ext
	if ok, err := s.bucket.Exists(ctx, key); err == nil && ok {
		return key, sum, nil
	}
	if err := s.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: contentType}); err != nil {
		return "", "", fmt.Errorf("store upload %s: %w", key, err)
	}
	return key, sum, nil
}

// Key resolves a reference (object key or URL of this bucket) to an object key.
func (s *Store) Key(ref string) (string, error) {
	if !strings.Contains(ref, "://") {
		k := path.Clean(strings.TrimPrefix(ref, "/"))
		if k == "." || strings.HasPrefix(k, "../") || k == ".." {
			return "", fmt.Errorf("blob key %q: %w", ref, ErrForeign)
		}
		return k, nil
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("blob URL %q: %w", ref, err)
	}
	if u.Scheme != s.url.Scheme || u.Host != s.url.Host {
		return "", fmt.Errorf("%q: %w (%s://%s…)", ref, ErrForeign, s.url.Scheme, s.url.Host)
	}
	prefix := strings.TrimSuffix(s.url.Path, "/") + "/"
	if !strings.HasPrefix(u.Path, prefix) {
		return "", fmt.Errorf("%q: %w (outside %s)", ref, ErrForeign, s.url.String())
	}
	k := path.Clean(strings.TrimPrefix(u.Path, prefix))
	if k == "." || k == ".." || strings.HasPrefix(k, "../") {
		return "", fmt.Errorf("%q: %w", ref, ErrForeign)
	}
	return k, nil
}

// Exists reports whether the referenced object exists.
func (s *Store) Exists(ctx context.Context, ref string) (bool, error) {
	k, err := s.Key(ref)
	if err != nil {
		return false, err
	}
	ok, err := s.bucket.Exists(ctx, k)
	if err != nil {
		return false, fmt.Errorf("blob %s: %w", k, err)
	}
	return ok, nil
}

// ReadAll returns the referenced object's bytes, at most maxBytes (0: no limit).
func (s *Store) ReadAll(ctx context.Context, ref string, maxBytes int64) ([]byte, error) {
	k, err := s.Key(ref)
	if err != nil {
		return nil, err
	}
	r, err := s.bucket.NewReader(ctx, k, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("blob %s: %w", k, ErrNotFound)
		}
		return nil, fmt.Errorf("read blob %s: %w", k, err)
	}
	defer r.Close()
	if maxBytes > 0 && r.Size() > maxBytes {
		return nil, fmt.Errorf("blob %s has %d bytes, more than the limit of %d", k, r.Size(), maxBytes)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", k, err)
	}
	return data, nil
}
