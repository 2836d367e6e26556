// Package imageio decodes the images the face engine reads — JPEG, PNG, GIF (first frame), WebP
// and BMP — safely and the way a person sees them.
//
// Safety: the input is read through a byte limit, and the dimensions are read from the header
// with image.DecodeConfig before any pixel is decoded, so a decompression bomb (a small file that
// claims 100000×100000 pixels) is refused with ErrTooLarge without allocating its pixels. Decoder
// failures and panics on hostile input become ErrCorrupt; unknown formats, and variants the
// standard decoders lack (such as arithmetic-coded JPEG), ErrUnsupported.
//
// Orientation: the EXIF orientation tag (JPEG APP1, PNG eXIf, WebP EXIF chunk) is applied so that
// the returned image is upright, as phones and browsers show it. Limits.IgnoreOrientation returns
// the stored pixels instead (the face-api.js reference decodes without EXIF rotation, so parity
// tests use it). The orientation tag is read by a small hand-written TIFF reader (exif.go) rather
// than an EXIF library: only one tag of IFD0 is needed, and github.com/rwcarlsen/goexif (the
// common choice, unmaintained since 2019) multiplies tag counts in uint32 without an overflow
// check, so a 30-byte EXIF block makes it allocate 8 GiB.
package imageio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"io"
	"os"

	// Registered decoders: the formats this package accepts.
	_ "image/gif"
	"image/jpeg"
	"image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

// Defaults applied when a Limits field is zero (or negative).
const (
	DefaultMaxPixels int64 = 40_000_000 // 40 MP: larger than any camera snapshot the product expects
	DefaultMaxBytes  int64 = 128 << 20  // a 40 MP PNG of noise is about 120 MiB
)

// Limits bounds what Decode accepts. The zero value applies the defaults and EXIF orientation.
type Limits struct {
	MaxPixels int64 // width×height above this is refused before decoding (ErrTooLarge); 0 = DefaultMaxPixels
	MaxBytes  int64 // encoded size above this is refused (ErrTooLarge); 0 = DefaultMaxBytes
	// IgnoreOrientation returns the stored pixels without applying the EXIF orientation
	// (the reference implementation's behaviour; Info.Orientation still reports the tag).
	IgnoreOrientation bool
}

func (l Limits) maxPixels() int64 {
	if l.MaxPixels <= 0 {
		return DefaultMaxPixels
	}
	return l.MaxPixels
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

// Info describes a decoded image.
type Info struct {
	Format      string // "jpeg", "png", "gif", "webp" or "bmp"
	Width       int    // of the returned image (after orientation)
	Height      int    // of the returned image (after orientation)
	Orientation int    // EXIF orientation tag, 1–8; 1 when absent or invalid
	Bytes       int64  // size of the encoded input
}

// Errors callers can test with errors.Is; the returned errors wrap them with details.
var (
	ErrTooLarge    = errors.New("image too large")
	ErrUnsupported = errors.New("unsupported image format")
	ErrCorrupt     = errors.New("corrupt image")
)

// supported lists the format names (as registered with package image) that Decode accepts;
// other formats registered by other packages of the program are refused.
var supported = map[string]bool{"jpeg": true, "png": true, "gif": true, "webp": true, "bmp": true}

// Extensions are the file name extensions (lower case, with the dot) of the supported formats,
// for callers that scan directories.
var Extensions = []string{".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}

// DecodeFile decodes the image at path; errors name the path.
func DecodeFile(path string, lim Limits) (image.Image, Info, error) {
	return DecodeFileTee(path, lim, nil)
}

// DecodeFileTee is DecodeFile that also writes every byte it reads to w (nil: none), e.g. a
// hash.Hash for the file's content hash without reading the file twice. When it returns no
// error, w has seen the whole file.
func DecodeFileTee(path string, lim Limits, w io.Writer) (image.Image, Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Info{}, err // *fs.PathError: "open PATH: reason"
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > lim.maxBytes() {
		// refused without reading it
		return nil, Info{Bytes: st.Size()}, fmt.Errorf("%s: %w: %d bytes, over the limit of %d", path, ErrTooLarge, st.Size(), lim.maxBytes())
	}
	var r io.Reader = f
	if w != nil {
		r = io.TeeReader(f, w)
	}
	img, info, err := Decode(r, lim)
	if err != nil {
		return nil, info, fmt.Errorf("%s: %w", path, err)
	}
	return img, info, nil
}

// Decode reads one image from r within lim. The image is upright (EXIF orientation applied)
// unless lim.IgnoreOrientation is set.
func Decode(r io.Reader, lim Limits) (image.Image, Info, error) {
	maxBytes := lim.maxBytes()
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, Info{}, fmt.Errorf("read image: %w", err)
	}
	info := Info{Bytes: int64(len(data)), Orientation: 1}
	if int64(len(data)) > maxBytes {
		return nil, info, fmt.Errorf("%w: more than %d bytes (the limit)", ErrTooLarge, maxBytes)
	}
	if len(data) == 0 {
		return nil, info, fmt.Errorf("%w: empty input", ErrUnsupported)
	}

	cfg, format, err := decodeConfig(data)
	info.Format = format
	if err != nil {
		return nil, info, err
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if maxPixels := lim.maxPixels(); pixels > maxPixels {
		return nil, info, fmt.Errorf("%w: %d×%d is %s, over the limit of %s",
			ErrTooLarge, cfg.Width, cfg.Height, megapixels(pixels), megapixels(maxPixels))
	}

	img, err := decodePixels(data)
	if err != nil {
		return nil, info, err
	}
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if b := img.Bounds(); format == "gif" && b != screen && b.In(screen) {
		// A GIF's first frame may cover only part of its logical screen: place it there, on a
		// transparent background, so that boxes are in the picture's own coordinates.
		canvas := image.NewNRGBA(screen)
		draw.Draw(canvas, b, img, b.Min, draw.Src)
		img = canvas
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, info, fmt.Errorf("%w: %s header says %d×%d but the pixels are %d×%d",
			ErrCorrupt, format, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}

	info.Orientation = orientation(format, data)
	if !lim.IgnoreOrientation {
		img = Orient(img, info.Orientation)
	}
	info.Width, info.Height = img.Bounds().Dx(), img.Bounds().Dy()
	return img, info, nil
}

func megapixels(n int64) string {
	if n < 100_000 {
		return fmt.Sprintf("%d pixels", n)
	}
	return fmt.Sprintf("%.1f MP", float64(n)/1e6)
}

// DecodeHeader reads only the format and dimensions from the header at the start of r — no pixel
// is decoded, and only as much of r is read as the header takes (a few KiB for a JPEG with EXIF,
// tens of bytes for the others) — and checks them as Decode does: ErrUnsupported, ErrCorrupt
// (header unreadable, no pixels) or ErrTooLarge (more pixels than lim allows). Info has the
// format and the stored dimensions (before any EXIF orientation); it cannot tell whether the
// pixel data after the header is intact.
func DecodeHeader(r io.Reader, lim Limits) (Info, error) {
	cfg, format, err := decodeConfigFrom(bufio.NewReaderSize(r, 4096))
	info := Info{Format: format, Width: cfg.Width, Height: cfg.Height, Orientation: 1}
	if err != nil {
		return info, err
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if maxPixels := lim.maxPixels(); pixels > maxPixels {
		return info, fmt.Errorf("%w: %d×%d is %s, over the limit of %s",
			ErrTooLarge, cfg.Width, cfg.Height, megapixels(pixels), megapixels(maxPixels))
	}
	return info, nil
}

// decodeConfig reads the format and dimensions from the header only.
func decodeConfig(data []byte) (cfg image.Config, format string, err error) {
	return decodeConfigFrom(bytes.NewReader(data))
}

func decodeConfigFrom(r io.Reader) (cfg image.Config, format string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s header: decoder panicked: %v", ErrCorrupt, format, p)
		}
	}()
	cfg, format, err = image.DecodeConfig(r)
	switch {
	case errors.Is(err, image.ErrFormat):
		return cfg, "", fmt.Errorf("%w (not JPEG, PNG, GIF, WebP or BMP)", ErrUnsupported)
	case unsupportedVariant(err):
		return cfg, format, fmt.Errorf("%w: %s: %w", ErrUnsupported, format, err)
	case err != nil:
		return cfg, format, fmt.Errorf("%w: %s header: %w", ErrCorrupt, format, err)
	case !supported[format]:
		return cfg, format, fmt.Errorf("%w: %s", ErrUnsupported, format)
	case cfg.Width <= 0 || cfg.Height <= 0:
		return cfg, format, fmt.Errorf("%w: %s header says %d×%d pixels", ErrCorrupt, format, cfg.Width, cfg.Height)
	}
	return cfg, format, nil
}

// decodePixels decodes the whole image; the standard decoders should not panic, but a panic on
// hostile input must not take down a server, so it is turned into ErrCorrupt.
func decodePixels(data []byte) (img image.Image, err error) {
	format := "image"
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("%w: %s: decoder panicked: %v", ErrCorrupt, format, p)
		}
	}()
	img, format, err = image.Decode(bytes.NewReader(data))
	if unsupportedVariant(err) {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnsupported, format, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, format, err)
	}
	return img, nil
}

// unsupportedVariant reports a valid file of a supported format using a feature its decoder
// lacks (arithmetic-coded or 12-bit JPEG, some PNG variants, ...).
func unsupportedVariant(err error) bool {
	var j jpeg.UnsupportedError
	var p png.UnsupportedError
	return errors.As(err, &j) || errors.As(err, &p)
}
