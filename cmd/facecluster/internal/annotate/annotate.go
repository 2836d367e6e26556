// Package annotate draws face boxes and their labels (names, scores) on a copy of an image and
// writes it as JPEG, for `detect --annotate` and `identify --annotate`. Text is drawn with the
// basicfont bitmap face, scaled up by whole pixels so that it stays legible on large photos.
package annotate

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Colours for known faces, unknown faces and plain detections.
var (
	Green = color.RGBA{0, 200, 0, 255}
	Red   = color.RGBA{220, 0, 0, 255}
	Blue  = color.RGBA{0, 90, 255, 255}
)

// Label is one box to draw, in image pixels, with the text under it (none when empty).
type Label struct {
	Box   image.Rectangle
	Text  string
	Color color.RGBA
}

// Draw returns a copy of img (origin 0,0) with every label drawn on it.
func Draw(img image.Image, labels []Label) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	short := min(b.Dx(), b.Dy())
	thick := max(3, short/250) // 3 pixels at least: JPEG halves the colour resolution
	scale := max(1, short/400)
	for _, l := range labels {
		r := l.Box.Canon()
		outline(dst, r, thick, l.Color)
		if l.Text != "" {
			caption(dst, r, l.Text, scale, l.Color)
		}
	}
	return dst
}

// outline draws the border of r, t pixels thick, inside r, clipped to the image.
func outline(dst *image.RGBA, r image.Rectangle, t int, c color.RGBA) {
	u := image.NewUniform(c)
	for _, side := range []image.Rectangle{
		{r.Min, image.Pt(r.Max.X, r.Min.Y+t)},
		{image.Pt(r.Min.X, r.Max.Y-t), r.Max},
		{r.Min, image.Pt(r.Min.X+t, r.Max.Y)},
		{image.Pt(r.Max.X-t, r.Min.Y), r.Max},
	} {
		draw.Draw(dst, side.Intersect(dst.Rect), u, image.Point{}, draw.Src)
	}
}

// caption writes text in white on a filled band of colour c under the box (above it when the
// box touches the bottom edge), like face_recognition's examples.
func caption(dst *image.RGBA, box image.Rectangle, text string, scale int, c color.RGBA) {
	face := basicfont.Face7x13
	width := font.MeasureString(face, text).Ceil() + 4
	small := image.NewRGBA(image.Rect(0, 0, width, face.Height+2))
	draw.Draw(small, small.Rect, image.NewUniform(c), image.Point{}, draw.Src)
	d := font.Drawer{Dst: small, Src: image.White, Face: face, Dot: fixed.P(2, face.Ascent+1)}
	d.DrawString(text)

	w, h := small.Rect.Dx()*scale, small.Rect.Dy()*scale
	at := image.Pt(box.Min.X, box.Max.Y)
	if at.Y+h > dst.Rect.Max.Y {
		at.Y = box.Min.Y - h
	}
	at.X = max(dst.Rect.Min.X, min(at.X, dst.Rect.Max.X-w))
	at.Y = max(dst.Rect.Min.Y, at.Y)
	draw.NearestNeighbor.Scale(dst, image.Rectangle{at, at.Add(image.Pt(w, h))}, small, small.Rect, draw.Src, nil)
}

// WriteJPEG writes img to path as a JPEG of quality 90, creating the directory, with mode 0644
// less the umask like any file a user opens (the temporary files os.CreateTemp makes are 0600);
// a failed write leaves no partial file behind.
func WriteJPEG(path string, img image.Image) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithPermissions(0o644))
	if err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	defer f.Cleanup() // no-op after the rename
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		return fmt.Errorf("annotate: encode %s: %w", path, err)
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("annotate: write %s: %w", path, err)
	}
	return nil
}
