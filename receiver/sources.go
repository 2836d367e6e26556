package receiver

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // formats accepted for upload (the engine decodes the same set)
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

var errEOF = io.EOF

// resolvePath checks a submitted path: absolute under the image root or relative to it, no ".."
// component, resolving (symlinks included) inside the root to an existing regular file. It
// returns the cleaned absolute path (symlinks kept) that is stored and sent to the recognizer.
func (rc *Receiver) resolvePath(p string) (string, error) {
	if strings.TrimSpace(p) == "" {
		return "", errors.New("empty path")
	}
	if strings.ContainsRune(p, 0) {
		return "", errors.New("path contains a NUL byte")
	}
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if part == ".." {
			return "", fmt.Errorf("%s: \"..\" is not allowed in image paths", p)
		}
	}
	abs := filepath.Clean(p)
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(rc.rootAbs, abs)
	}
	if !within(rc.rootAbs, abs) {
		return "", fmt.Errorf("%s is outside the image root %s", p, rc.rootAbs)
	}
	// Symlinks (relative or absolute) are followed; where they lead must stay under the root.
	resolved, mode, err := rc.dirs.resolve(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s does not exist under the image root", p)
	case err != nil:
		return "", fmt.Errorf("%s cannot be read: %v", p, unwrapPathError(err))
	case !within(rc.rootResolved, resolved):
		return "", fmt.Errorf("%s resolves outside the image root %s", p, rc.rootAbs)
	}
	if mode&fs.ModeSymlink != 0 { // a link: check what it points to
		fi, err := os.Stat(resolved)
		if err != nil {
			return "", fmt.Errorf("%s cannot be read: %v", p, unwrapPathError(err))
		}
		mode = fi.Mode()
	}
	if !mode.IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", p)
	}
	return abs, nil
}

// dirCache remembers where directories resolve to for a moment, so that a bulk request of
// thousands of files in a few camera folders costs one lstat per file instead of one per path
// component. The recognizer opens the file later anyway, so a symlink swapped within the TTL
// changes nothing a race could not.
type dirCache struct {
	mu  sync.Mutex
	m   map[string]dirEntry
	ttl time.Duration
}

type dirEntry struct {
	resolved string
	at       time.Time
}

func newDirCache(ttl time.Duration) *dirCache { return &dirCache{m: map[string]dirEntry{}, ttl: ttl} }

// resolve is filepath.EvalSymlinks(path) with the parent directory's resolution cached; it
// also returns the Lstat mode of path.
func (c *dirCache) resolve(path string) (string, fs.FileMode, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", 0, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		r, err := filepath.EvalSymlinks(path) // the file itself is a link: resolve it fully
		return r, fi.Mode(), err
	}
	dir := filepath.Dir(path)
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[dir]
	c.mu.Unlock()
	if !ok || now.Sub(e.at) > c.ttl {
		r, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", 0, err
		}
		e = dirEntry{resolved: r, at: now}
		c.mu.Lock()
		if len(c.m) > 10000 {
			clear(c.m)
		}
		c.m[dir] = e
		c.mu.Unlock()
	}
	return filepath.Join(e.resolved, filepath.Base(path)), fi.Mode(), nil
}

// within reports whether path is root or below it (both clean and absolute).
func within(root, path string) bool {
	return path == root || strings.HasPrefix(path, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator))
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// upload is one checked image file from a multipart request.
type upload struct {
	name        string
	data        []byte
	format      string // jpeg, png, gif, webp, bmp
	width       int
	height      int
	contentType string
}

var extOf = map[string]string{"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp", "bmp": ".bmp"}

// checkImage reads an uploaded file and checks it is an image of a supported format within the
// pixel limit (dimensions read from the header: nothing is decoded).
func (rc *Receiver) checkImage(fh *multipart.FileHeader) (upload, error) {
	f, err := fh.Open()
	if err != nil {
		return upload{}, fmt.Errorf("file %q: %w", fh.Filename, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return upload{}, fmt.Errorf("file %q: %w", fh.Filename, err)
	}
	return rc.checkImageBytes(fh.Filename, data)
}

func (rc *Receiver) checkImageBytes(name string, data []byte) (upload, error) {
	if len(data) == 0 {
		return upload{}, errorf(http.StatusBadRequest, "file %q is empty", name)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return upload{}, errorf(http.StatusUnsupportedMediaType, "file %q is not a JPEG, PNG, GIF, WebP or BMP image (%v)", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return upload{}, errorf(http.StatusBadRequest, "file %q: image has no pixels", name)
	}
	if int64(cfg.Width)*int64(cfg.Height) > rc.opts.MaxPixels {
		return upload{}, errorf(http.StatusRequestEntityTooLarge, "file %q is %d×%d pixels, more than the limit of %d", name, cfg.Width, cfg.Height, rc.opts.MaxPixels)
	}
	return upload{name: name, data: data, format: format, width: cfg.Width, height: cfg.Height, contentType: "image/" + format}, nil
}

// parseMultipart parses a multipart/form-data body within the upload limit.
func (rc *Receiver) parseMultipart(w http.ResponseWriter, r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(strings.ToLower(ct), "multipart/form-data") {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not supported here: send multipart/form-data", ct)
	}
	r.Body = http.MaxBytesReader(w, r.Body, rc.opts.MaxUploadBytes)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "malformed multipart body: %v", err)
	}
	return nil
}

// files returns the uploaded files of the given form fields, in order.
func files(r *http.Request, fields ...string) []*multipart.FileHeader {
	var out []*multipart.FileHeader
	for _, f := range fields {
		out = append(out, r.MultipartForm.File[f]...)
	}
	return out
}
