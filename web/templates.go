package web

import (
	"fmt"
	"html/template"
	"image"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/httpjson"
)

var pageNames = []string{"images", "card", "image", "upload", "people", "person", "confirm", "unknown", "status", "login", "error"}

var funcs = template.FuncMap{
	"statusLabel": statusLabel,
	"ago":         ago,
	"isoTime":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"fullTime":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"clock":       func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"distance": func(d float64) string {
		if math.IsNaN(d) || d < 0 {
			return ""
		}
		return fmt.Sprintf("distance %.2f", d)
	},
}

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func statusLabel(s any) string {
	switch fmt.Sprint(s) {
	case "pending":
		return "queued"
	case "processing":
		return "processing"
	case "processed":
		return "processed"
	case "unidentified":
		return "nobody known"
	case "no_faces":
		return "no faces"
	case "failed":
		return "failed"
	}
	return fmt.Sprint(s)
}

// ago says how long ago t was, coarsely, the way people read it.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return t.UTC().Format("2006-01-02 15:04")
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 7*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// decodeImage is the default Options.Decode: the engine's decoder, so thumbnails are upright
// exactly as the faces were found (EXIF orientation) and decompression bombs are refused.
func decodeImage(r io.Reader) (image.Image, error) {
	img, _, err := imageio.Decode(r, imageio.Limits{})
	if err != nil {
		return nil, fmt.Errorf("decode picture: %w", err)
	}
	return img, nil
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// writeJSON answers the browser's fetch calls; no-store because each answer is about one request
// (an upload's result, a refusal) and must never come from a cache.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, code, v)
}
