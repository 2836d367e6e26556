package enroll

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/facecluster/facecluster/engine/face/imageio"
)

// Photo is one known person's photo.
type Photo struct {
	Person string // name from the file name
	Path   string // path of the file (dir joined with its name)
}

// Scan lists the image files directly in dir (subdirectories are not entered) as (person, path)
// pairs sorted by person, then path. Entries that are not images of a supported format (by
// extension), subdirectories and hidden files are skipped and named in skipped, for a warning.
func Scan(dir string) (photos []Photo, skipped []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read known-people folder: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			skipped = append(skipped, path)
			continue
		}
		person, ok := PersonName(name)
		if !ok {
			skipped = append(skipped, path)
			continue
		}
		photos = append(photos, Photo{Person: person, Path: path})
	}
	slices.SortFunc(photos, func(a, b Photo) int {
		if c := strings.Compare(a.Person, b.Person); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	return photos, skipped, nil
}

// PersonName returns the person a file name stands for: the base name without its image
// extension and without a trailing "_N" (N all digits). ok is false when the name has no
// supported image extension or nothing is left of the name.
func PersonName(file string) (person string, ok bool) {
	ext := filepath.Ext(file)
	if !slices.Contains(imageio.Extensions, strings.ToLower(ext)) {
		return "", false
	}
	person = strings.TrimSuffix(file, ext)
	if i := strings.LastIndexByte(person, '_'); i > 0 && isDigits(person[i+1:]) {
		person = person[:i]
	}
	person = strings.TrimSpace(person)
	return person, person != ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
