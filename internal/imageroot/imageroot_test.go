package imageroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Second} {
		t.Run("cache "+ttl.String(), func(t *testing.T) { testResolve(t, ttl) })
	}
}

func testResolve(t *testing.T, ttl time.Duration) {
	base := t.TempDir()
	rootDir := filepath.Join(base, "images")
	outsideDir := filepath.Join(base, "elsewhere")
	for _, d := range []string{filepath.Join(rootDir, "cam1"), filepath.Join(rootDir, "folder"), outsideDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string) {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(rootDir, "cam1", "a.jpg"))
	write(filepath.Join(outsideDir, "secret.jpg"))
	link(filepath.Join(rootDir, "cam1", "a.jpg"), filepath.Join(rootDir, "inside-link.jpg"))
	link("cam1/a.jpg", filepath.Join(rootDir, "relative-link.jpg"))
	link(filepath.Join(outsideDir, "secret.jpg"), filepath.Join(rootDir, "escape.jpg"))
	link(outsideDir, filepath.Join(rootDir, "escape-dir"))
	link(filepath.Join(rootDir, "cam1"), filepath.Join(rootDir, "cam-link"))
	// The root itself reached through a symlink: paths may use either spelling.
	rootLink := filepath.Join(base, "images-link")
	link(rootDir, rootLink)

	r, err := Open(rootLink, ttl)
	if err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(rootDir, "cam1", "a.jpg")
	tests := []struct {
		name, path       string
		wantAbs, wantErr string
		kind             error
	}{
		{"relative", "cam1/a.jpg", filepath.Join(rootLink, "cam1", "a.jpg"), "", nil},
		{"absolute through the root link", filepath.Join(rootLink, "cam1", "a.jpg"), filepath.Join(rootLink, "cam1", "a.jpg"), "", nil},
		{"absolute resolved spelling", a, a, "", nil},
		{"dot-dot that stays inside", "folder/../cam1/a.jpg", filepath.Join(rootLink, "cam1", "a.jpg"), "", nil},
		{"symlink inside", "inside-link.jpg", filepath.Join(rootLink, "inside-link.jpg"), "", nil},
		{"relative symlink inside", "relative-link.jpg", filepath.Join(rootLink, "relative-link.jpg"), "", nil},
		{"directory symlink inside", "cam-link/a.jpg", filepath.Join(rootLink, "cam-link", "a.jpg"), "", nil},
		{"empty", " ", "", "empty path", ErrInvalid},
		{"NUL byte", "a\x00.jpg", "", "NUL byte", ErrInvalid},
		{"dot-dot escape", "../elsewhere/secret.jpg", "", "is outside the image root", ErrOutside},
		{"absolute outside", filepath.Join(outsideDir, "secret.jpg"), "", "is outside the image root", ErrOutside},
		{"absolute outside that does not exist", "/nonexistent/x.jpg", "", "is outside the image root", ErrOutside},
		{"symlink escape", "escape.jpg", "", "resolves outside the image root", ErrOutside},
		{"directory symlink escape", "escape-dir/secret.jpg", "", "resolves outside the image root", ErrOutside},
		{"missing", "cam1/nope.jpg", "", "does not exist under the image root", fs.ErrNotExist},
		{"directory", "folder", "", "is not a regular file", ErrNotRegular},
		{"the root itself", ".", "", "is not a regular file", ErrNotRegular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			abs, real, err := r.Resolve(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, tt.kind) {
					t.Fatalf("Resolve(%q) = %q, %v; want an error saying %q that is %v", tt.path, abs, err, tt.wantErr, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.path, err)
			}
			if abs != tt.wantAbs || real != a {
				t.Fatalf("Resolve(%q) = %q, %q; want %q, %q", tt.path, abs, real, tt.wantAbs, a)
			}
		})
	}
}

func TestOpenRefusesWhatIsNotADirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, filepath.Join(dir, "missing")} {
		if _, err := Open(p, 0); err == nil {
			t.Errorf("Open(%s) succeeded", p)
		}
	}
}

// TestResolveAllMatchesResolve: for a mix of good and bad paths, many of them in directories
// ResolveAll lists, every answer is the one Resolve gives for that path alone.
func TestResolveAllMatchesResolve(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Second} {
		t.Run("cache "+ttl.String(), func(t *testing.T) {
			base := t.TempDir()
			rootDir := filepath.Join(base, "images")
			outside := filepath.Join(base, "elsewhere")
			cam := filepath.Join(rootDir, "cam1")
			for _, d := range []string{cam, filepath.Join(cam, "sub"), outside} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var paths []string
			for i := range 40 {
				p := filepath.Join(cam, fmt.Sprintf("%03d.jpg", i))
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p, fmt.Sprintf("cam1/%03d.jpg", i)) // both spellings
			}
			os.WriteFile(filepath.Join(outside, "secret.jpg"), []byte("x"), 0o644)
			os.Symlink(filepath.Join(outside, "secret.jpg"), filepath.Join(cam, "escape.jpg"))
			os.Symlink(filepath.Join(cam, "001.jpg"), filepath.Join(cam, "inside.jpg"))
			os.Symlink(cam, filepath.Join(rootDir, "cam-link"))
			os.Symlink(outside, filepath.Join(rootDir, "out-link"))
			if err := syscall.Mkfifo(filepath.Join(cam, "fifo.jpg"), 0o644); err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				paths = append(paths, fmt.Sprintf("cam-link/%03d.jpg", i), fmt.Sprintf("out-link/%03d.jpg", i))
			}
			paths = append(paths, "cam1/escape.jpg", "cam1/inside.jpg", "cam1/sub", "cam1/fifo.jpg", "cam1/missing.jpg",
				"cam1//005.jpg", "", "a\x00b", "../elsewhere/secret.jpg", filepath.Join(outside, "secret.jpg"), ".")
			r, err := Open(rootDir, ttl)
			if err != nil {
				t.Fatal(err)
			}
			abs, real, errs := r.ResolveAll(paths)
			for i, p := range paths {
				wa, wr, werr := r.Resolve(p)
				if abs[i] != wa || real[i] != wr || fmt.Sprint(errs[i]) != fmt.Sprint(werr) {
					t.Errorf("%q: ResolveAll = %q, %q, %v; Resolve = %q, %q, %v", p, abs[i], real[i], errs[i], wa, wr, werr)
				}
				if werr != nil && !errors.Is(errs[i], errors.Unwrap(werr)) {
					t.Errorf("%q: error kind %v, want %v", p, errs[i], werr)
				}
			}
		})
	}
}
