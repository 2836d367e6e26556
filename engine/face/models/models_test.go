package models

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
)

func TestLoadAllPinned(t *testing.T) {
	dir := testutil.ModelsDir(t)
	for _, m := range All {
		set, err := Load(dir, m)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if set.Len() == 0 {
			t.Errorf("%s: no tensors", m)
		}
	}
}

// copyModels copies the used files of the installed models into a fresh directory.
func copyModels(t *testing.T) string {
	t.Helper()
	src := testutil.ModelsDir(t)
	dst := t.TempDir()
	for name := range pinned {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestLoadRefusesAlteredOrMissing(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(dir string) error
		wantIs  error
		wantMsg []string
	}{
		{"one flipped byte in a shard", func(dir string) error {
			p := filepath.Join(dir, "face_recognition_model.bin")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[123456] ^= 1
			return os.WriteFile(p, b, 0o644)
		}, ErrChecksum, []string{"face_recognition_model.bin has SHA-256", "make models"}},
		{"edited manifest", func(dir string) error {
			p := filepath.Join(dir, "face_recognition_model-weights_manifest.json")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, append(b, ' '), 0o644)
		}, ErrChecksum, []string{"manifest.json has SHA-256", "make models"}},
		{"missing shard", func(dir string) error {
			return os.Remove(filepath.Join(dir, "face_recognition_model.bin"))
		}, ErrNotInstalled, []string{"face_recognition_model.bin is missing", "make models"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyModels(t)
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir, Recognition)
			if !errors.Is(err, tc.wantIs) {
				t.Fatalf("error %v, want %v", err, tc.wantIs)
			}
			for _, s := range tc.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestDir(t *testing.T) {
	installed := testutil.ModelsDir(t)
	empty := t.TempDir()

	t.Run("explicit wins over the environment", func(t *testing.T) {
		t.Setenv(EnvDir, empty)
		got, err := Dir(installed)
		if err != nil || got != installed {
			t.Fatalf("Dir = %q, %v", got, err)
		}
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv(EnvDir, installed)
		if got, err := Dir(""); err != nil || got != installed {
			t.Fatalf("Dir = %q, %v", got, err)
		}
	})
	t.Run("environment pointing nowhere", func(t *testing.T) {
		t.Setenv(EnvDir, empty)
		_, err := Dir("")
		if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "make models") || !strings.Contains(err.Error(), empty) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("relative to the working directory", func(t *testing.T) {
		t.Setenv(EnvDir, "")
		wd := t.TempDir()
		rel := filepath.Join(wd, RelDir)
		if err := os.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(installed, rel); err != nil {
			t.Fatal(err)
		}
		t.Chdir(wd)
		if got, err := Dir(""); err != nil || got != rel {
			t.Fatalf("Dir = %q, %v; want %q", got, err, rel)
		}
	})
	t.Run("nothing installed", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(SystemDir, "face_recognition_model-weights_manifest.json")); err == nil {
			t.Skip(SystemDir + " holds models on this machine")
		}
		t.Setenv(EnvDir, "")
		t.Chdir(t.TempDir())
		_, err := Dir("")
		if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "make models") || !strings.Contains(err.Error(), SystemDir) {
			t.Fatalf("error %v", err)
		}
	})
}
