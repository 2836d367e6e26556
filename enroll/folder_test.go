package enroll

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestPersonName(t *testing.T) {
	tests := []struct {
		file   string
		person string
		ok     bool
	}{
		{"obama.jpg", "obama", true},
		{"obama_2.jpg", "obama", true},
		{"mary_jane_2.jpg", "mary_jane", true},
		{"mary_jane.png", "mary_jane", true},
		{"Anna Lee_10.JPEG", "Anna Lee", true},
		{"r2_d2.webp", "r2_d2", true},
		{"bob_2b.gif", "bob_2b", true},
		{"_3.jpg", "_3", true}, // nothing before the underscore: the whole stem is the name
		{"photo.bmp", "photo", true},
		{"notes.txt", "", false},
		{"README", "", false},
		{".jpg", "", false},
		{"archive.jpg.zip", "", false},
	}
	for _, tt := range tests {
		person, ok := PersonName(tt.file)
		if person != tt.person || ok != tt.ok {
			t.Errorf("PersonName(%q) = %q, %v; want %q, %v", tt.file, person, ok, tt.person, tt.ok)
		}
	}
}

func TestScan(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"zoe.jpg", "mary_jane_2.jpg", "mary_jane.png", "mary_jane_1.jpg", "bob.webp", "notes.txt", ".hidden.jpg"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "more"), 0o755); err != nil {
		t.Fatal(err)
	}
	photos, skipped, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := func(person, name string) Photo { return Photo{person, filepath.Join(dir, name)} }
	want := []Photo{
		p("bob", "bob.webp"),
		p("mary_jane", "mary_jane.png"),
		p("mary_jane", "mary_jane_1.jpg"),
		p("mary_jane", "mary_jane_2.jpg"),
		p("zoe", "zoe.jpg"),
	}
	if !reflect.DeepEqual(photos, want) {
		t.Errorf("photos = %v, want %v", photos, want)
	}
	if wantSkipped := []string{filepath.Join(dir, "more"), filepath.Join(dir, "notes.txt")}; !reflect.DeepEqual(skipped, wantSkipped) {
		t.Errorf("skipped = %v, want %v", skipped, wantSkipped)
	}
}

func TestScanErrors(t *testing.T) {
	if _, _, err := Scan(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: error %v, want not-exist", err)
	}
	file := filepath.Join(t.TempDir(), "file.jpg")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Scan(file); err == nil {
		t.Error("Scan of a file: want an error")
	}
}
