// Package imageroot confines image paths to the shared image volume (--image-root): a path,
// relative to the root or absolute, must lie under the root, resolve (symlinks included) inside
// it, and name an existing regular file. The receiver checks paths before it stores them and the
// recognizer before it opens them; both use this one check.
//
// The path is first checked as written, so that a path outside the root is refused without
// touching the file system there (no "exists or not" answer about files outside the root), then
// resolved with filepath.EvalSymlinks and checked again.
package imageroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrOutside is in the chain of errors for paths that are, or resolve, outside the root.
var ErrOutside = errors.New("outside the image root")

// ErrNotRegular is in the chain of errors for paths that are directories, devices and the like.
var ErrNotRegular = errors.New("not a regular file")

// ErrInvalid is in the chain of errors for paths that cannot name a file (empty, NUL byte) or
// cannot be read. Missing files carry fs.ErrNotExist instead.
var ErrInvalid = errors.New("invalid image path")

// Root is an opened image root. It is safe for concurrent use.
type Root struct {
	abs      string    // as configured, made absolute
	resolved string    // the same with symlinks resolved
	dirs     *dirCache // nil: resolve every path fully
}

// Open makes dir absolute, resolves its symlinks and checks it is a directory. With cacheTTL > 0
// where directories resolve to is remembered that long, so that a bulk request of thousands of
// files in a few folders costs one lstat per file instead of one per path component; a directory
// symlink swapped within the TTL is then noticed late, which matters no more than the race
// between any check and the later open.
func Open(dir string, cacheTTL time.Duration) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("image root %s: %w", dir, err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("image root: %w", err)
	}
	if fi, err := os.Stat(resolved); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("image root %s is not a directory", dir)
	}
	r := &Root{abs: abs, resolved: resolved}
	if cacheTTL > 0 {
		r.dirs = &dirCache{m: map[string]dirEntry{}, ttl: cacheTTL}
	}
	return r, nil
}

// Dir is the root as configured, made absolute.
func (r *Root) Dir() string { return r.abs }

// Resolve checks path p and returns it cleaned and absolute (symlinks kept: what a user wrote,
// to store) and resolved (symlinks followed: what to open).
func (r *Root) Resolve(p string) (abs, real string, err error) {
	if strings.TrimSpace(p) == "" {
		return "", "", pathErr(ErrInvalid, "empty path")
	}
	if strings.ContainsRune(p, 0) {
		return "", "", pathErr(ErrInvalid, "path contains a NUL byte")
	}
	abs = filepath.Clean(p)
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(r.abs, abs)
	}
	if !within(r.abs, abs) && !within(r.resolved, abs) {
		return "", "", pathErr(ErrOutside, "%s is outside the image root %s", p, r.abs)
	}
	real, mode, err := r.resolve(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", "", pathErr(fs.ErrNotExist, "%s does not exist under the image root", p)
	case err != nil:
		return "", "", pathErr(ErrInvalid, "%s cannot be read: %v", p, unwrapPathError(err))
	case !within(r.resolved, real):
		return "", "", pathErr(ErrOutside, "%s resolves outside the image root %s", p, r.abs)
	}
	if mode&fs.ModeSymlink != 0 { // a link: check what it points to
		fi, err := os.Stat(real)
		if err != nil {
			return "", "", pathErr(ErrInvalid, "%s cannot be read: %v", p, unwrapPathError(err))
		}
		mode = fi.Mode()
	}
	if !mode.IsRegular() {
		return "", "", pathErr(ErrNotRegular, "%s is not a regular file", p)
	}
	return abs, real, nil
}

// resolve is filepath.EvalSymlinks(path), with the parent directory's resolution cached when
// the root has a cache; it also returns the Lstat mode of path.
func (r *Root) resolve(path string) (string, fs.FileMode, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", 0, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 || r.dirs == nil {
		real, err := filepath.EvalSymlinks(path)
		return real, fi.Mode(), err
	}
	dir, err := r.dirs.resolve(filepath.Dir(path))
	if err != nil {
		return "", 0, err
	}
	return filepath.Join(dir, filepath.Base(path)), fi.Mode(), nil
}

type dirCache struct {
	mu  sync.Mutex
	m   map[string]dirEntry
	ttl time.Duration
}

type dirEntry struct {
	resolved string
	at       time.Time
}

func (c *dirCache) resolve(dir string) (string, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[dir]
	c.mu.Unlock()
	if ok && now.Sub(e.at) <= c.ttl {
		return e.resolved, nil
	}
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[dir] = dirEntry{resolved: r, at: now}
	c.mu.Unlock()
	return r, nil
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

// pathError is a message for the user with a kind to test with errors.Is.
type pathError struct {
	msg  string
	kind error
}

func pathErr(kind error, format string, args ...any) error {
	return &pathError{msg: fmt.Sprintf(format, args...), kind: kind}
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.kind }
