package cli

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	a1, a2 := filepath.Join(dir, "a1.jpg"), filepath.Join(dir, "a2.png")
	cropFace(t, "sample6.jpg", 0, a1)
	cropFace(t, "sample6.jpg", 0, a2)
	b := filepath.Join(dir, "b.jpg")
	cropFace(t, "sample1.jpg", 1, b) // reference distance to a: above 0.64
	empty := filepath.Join(dir, "empty.png")
	blank(t, empty)

	tests := []struct {
		name    string
		args    []string
		code    int
		verdict string // "" when nothing is printed
	}{
		{"same face", []string{a1, a2}, ExitOK, "same"},
		{"different people", []string{a1, b}, ExitDifferent, "different"},
		{"strict tolerance", []string{"--tolerance", "0.0001", a1, a2}, ExitDifferent, "different"},
		{"no face", []string{a1, empty}, ExitNotFound, ""},
		{"whole image when cropped", []string{"--assume-cropped", empty, empty}, ExitOK, "same"},
		{"one argument", []string{a1}, ExitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, append([]string{"compare"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.verdict == "" {
				if r.stdout != "" || r.stderr == "" {
					t.Errorf("stdout %q, stderr %q: want only an error message", r.stdout, r.stderr)
				}
				return
			}
			f := strings.Split(strings.TrimSpace(r.stdout), ",")
			if len(f) != 2 || f[1] != tt.verdict {
				t.Fatalf("stdout %q, want distance,%s", r.stdout, tt.verdict)
			}
			d, err := strconv.ParseFloat(f[0], 64)
			if err != nil || d < 0 {
				t.Errorf("distance %q: %v", f[0], err)
			}
			if tt.verdict == "same" && d > 0.3 || tt.verdict == "different" && tt.name == "different people" && d < 0.6 {
				t.Errorf("distance %v does not fit %q", d, tt.name)
			}
		})
	}
}
