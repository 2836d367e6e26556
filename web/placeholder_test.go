package web

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestUnreadablePictureShowsAPlaceholder: an image whose file is not a picture (it ends failed)
// or has gone keeps its card readable — the browser gets a "no preview" image with the 404
// instead of a text body it draws as a broken-image icon with the alt text spilling over.
func TestUnreadablePictureShowsAPlaceholder(t *testing.T) {
	u := newTestUI(t, Options{ThumbSize: 100}, Deps{})
	bad := u.seedImage("notes.jpg", nil)
	p, err := u.st.GetImage(t.Context(), bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Source, []byte("minutes of the meeting"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fmt.Sprintf("/thumbs/%d.jpg", bad), fmt.Sprintf("/images/%d/file", bad), "/thumbs/999.jpg"} {
		r := u.get(path)
		if r.code != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", path, r.code)
		}
		if ct := r.header.Get("Content-Type"); ct != "image/svg+xml" {
			t.Fatalf("%s: Content-Type %q, want an image (image/svg+xml): %q", path, ct, r.body)
		}
		var svg struct {
			XMLName xml.Name
			Text    []string `xml:"text"`
		}
		if err := xml.Unmarshal([]byte(r.body), &svg); err != nil || svg.XMLName.Local != "svg" || !strings.Contains(strings.Join(svg.Text, " "), "no preview") {
			t.Fatalf("%s: body is not an SVG saying \"no preview\" (%v): %q", path, err, r.body)
		}
		mustNotContain(t, r, u.dir)
	}
}
