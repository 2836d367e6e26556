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
	abs = r.clean(p)
	if !r.inside(abs) {
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

// clean makes p clean and absolute (relative paths are under the root).
func (r *Root) clean(p string) string {
	abs := filepath.Clean(p)
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(r.abs, abs)
	}
	return abs
}

// inside reports whether a clean absolute path is written under the root (either spelling).
func (r *Root) inside(abs string) bool { return within(r.abs, abs) || within(r.resolved, abs) }

// listMin: a directory named by fewer paths of one ResolveAll call is checked path by path.
const listMin = 16

// ResolveAll is Resolve for many paths at once, with the same results: abs[i], real[i] and
// errs[i] are what Resolve(ps[i]) returns. Paths that share a directory named by at least
// listMin of them are checked against one listing of that directory, read now (a few getdents
// calls instead of one lstat per file): a name the listing gives as a regular file is one, as
// Lstat would say at that moment. Everything else — symbolic links, other file types, names
// not listed, directories outside the root, listings that run long (a huge directory of which
// few files are named) — goes through Resolve.
func (r *Root) ResolveAll(ps []string) (abs, real []string, errs []error) {
	n := len(ps)
	abs, real, errs = make([]string, n), make([]string, n), make([]error, n)
	cleaned := make([]string, n)
	groups := map[string][]int{}
	for i, p := range ps {
		if strings.TrimSpace(p) == "" || strings.ContainsRune(p, 0) {
			continue
		}
		if c := r.clean(p); r.inside(c) {
			cleaned[i] = c
			d := filepath.Dir(c)
			groups[d] = append(groups[d], i)
		}
	}
	done := make([]bool, n)
	for dir, idx := range groups {
		if len(idx) >= listMin {
			r.checkListed(dir, idx, cleaned, abs, real, done)
		}
	}
	for i, p := range ps {
		if !done[i] {
			abs[i], real[i], errs[i] = r.Resolve(p)
		}
	}
	return abs, real, errs
}

// checkListed lists dir (resolved) and marks done the paths idx (cleaned[i] in dir) listed there
// as regular files, filling abs and real.
func (r *Root) checkListed(dir string, idx []int, cleaned, abs, real []string, done []bool) {
	var resolved string
	var err error
	if r.dirs != nil {
		resolved, err = r.dirs.resolve(dir)
	} else {
		resolved, err = filepath.EvalSymlinks(dir)
	}
	if err != nil || !within(r.resolved, resolved) {
		return // Resolve gives each path its error
	}
	f, err := os.Open(resolved)
	if err != nil {
		return
	}
	defer f.Close()
	want := make(map[string][]int, len(idx))
	for _, i := range idx {
		name := filepath.Base(cleaned[i])
		want[name] = append(want[name], i)
	}
	// Stop after a few times as many entries as names: the rest go through Resolve.
	budget := max(4*len(idx), 4096)
	for len(want) > 0 && budget > 0 {
		ents, err := f.ReadDir(512)
		for _, e := range ents {
			budget--
			is, ok := want[e.Name()]
			if !ok {
				continue
			}
			delete(want, e.Name())
			if !e.Type().IsRegular() { // from the entry's d_type (or an lstat where the file system gives none)
				continue
			}
			for _, i := range is {
				abs[i], real[i], done[i] = cleaned[i], filepath.Join(resolved, e.Name()), true
			}
		}
		if err != nil {
			return // io.EOF: the names left are not there
		}
	}
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
