package web

import (
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"hash/crc32"
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

// TestFullPictureOfADecompressionBombIsNotServed: the detail page's full-size picture of an image
// whose header claims 100000×100000 pixels (it failed: over the pixel limit) is the placeholder,
// not the bytes for the browser to choke on.
func TestFullPictureOfADecompressionBombIsNotServed(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	id := u.seedImage("bomb.png", nil)
	p, err := u.st.GetImage(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.Source, pngHeader(100000, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	r := u.get(fmt.Sprintf("/images/%d/file", id))
	if r.code != http.StatusNotFound || r.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(r.body, "no preview") {
		t.Fatalf("full picture of a 100000×100000 PNG: %d %s, want the 404 placeholder", r.code, r.header.Get("Content-Type"))
	}
	// Within the limit, the same kind of file is served as it is.
	small := u.seedImage("small.png", nil)
	p, _ = u.st.GetImage(t.Context(), small)
	os.WriteFile(p.Source, pngHeader(100, 80), 0o644)
	if r := u.get(fmt.Sprintf("/images/%d/file", small)); r.code != http.StatusOK || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("full picture of a 100×80 PNG: %d %s, want it served", r.code, r.header.Get("Content-Type"))
	}
}

// pngHeader is the start of a PNG (signature and IHDR) claiming w×h pixels, nothing decodable after.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	chunk := append([]byte("IHDR"), ihdr...)
	b := append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, uint32(len(ihdr)))...)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}
