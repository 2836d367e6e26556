package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
)

var (
	red   = color.NRGBA{255, 0, 0, 255}
	green = color.NRGBA{0, 255, 0, 255}
	blue  = color.NRGBA{0, 0, 255, 255}
	white = color.NRGBA{255, 255, 255, 255}
)

// quadrants returns a w×h image whose quadrants are red (top left), green (top right),
// blue (bottom left) and white (bottom right).
func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := red
			switch {
			case x >= w/2 && y < h/2:
				c = green
			case x < w/2 && y >= h/2:
				c = blue
			case x >= w/2 && y >= h/2:
				c = white
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case "png":
		err = png.Encode(&buf, img)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	case "bmp":
		err = bmp.Encode(&buf, img)
	case "webp": // x/image has no WebP encoder: committed samples made with cwebp (see testdata/README.md)
		b, err := os.ReadFile(filepath.Join("testdata", "quadrants.webp"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	default:
		t.Fatalf("no encoder for %s", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// near reports whether two colours differ by at most tol per channel (lossy formats).
func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { v := int(x) - int(y); return v <= tol && v >= -tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

func nrgbaAt(img image.Image, x, y int) color.NRGBA {
	b := img.Bounds()
	return color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
}

// corners samples the four quadrant centres of img: top left, top right, bottom left, bottom right.
func corners(img image.Image) [4]color.NRGBA {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	return [4]color.NRGBA{nrgbaAt(img, w/4, h/4), nrgbaAt(img, 3*w/4, h/4), nrgbaAt(img, w/4, 3*h/4), nrgbaAt(img, 3*w/4, 3*h/4)}
}

func TestDecodeFormats(t *testing.T) {
	src := quadrants(40, 24)
	tests := []struct {
		format string
		tol    int
	}{
		{"jpeg", 12}, {"png", 0}, {"gif", 0}, {"bmp", 0}, {"webp", 24}, // lossy WebP shifts saturated colours by up to ~20
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			data := encode(t, tt.format, src)
			img, info, err := Decode(bytes.NewReader(data), Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if info.Format != tt.format || info.Width != 40 || info.Height != 24 || info.Orientation != 1 || info.Bytes != int64(len(data)) {
				t.Fatalf("info = %+v, want %s 40×24 orientation 1, %d bytes", info, tt.format, len(data))
			}
			want := [4]color.NRGBA{red, green, blue, white}
			got := corners(img)
			for i := range want {
				if !near(got[i], want[i], tt.tol) {
					t.Errorf("quadrant %d = %v, want %v", i, got[i], want[i])
				}
			}
			rgb := ToRGB(img)
			if len(rgb) != 40*24*3 {
				t.Fatalf("ToRGB length %d, want %d", len(rgb), 40*24*3)
			}
			// bottom-right quadrant centre (30, 18) is white, top-left (10, 6) red
			if o := (18*40 + 30) * 3; !near(color.NRGBA{rgb[o], rgb[o+1], rgb[o+2], 255}, white, tt.tol) {
				t.Errorf("ToRGB at (30,18) = %v, want white", rgb[o:o+3])
			}
			if o := (6*40 + 10) * 3; !near(color.NRGBA{rgb[o], rgb[o+1], rgb[o+2], 255}, red, tt.tol) {
				t.Errorf("ToRGB at (10,6) = %v, want red", rgb[o:o+3])
			}
		})
	}
}

func TestGIFFirstFrameOnItsScreen(t *testing.T) {
	// A 30×20 screen whose first frame is a 10×5 red patch at (4, 6); a second frame follows.
	pal := color.Palette{color.NRGBA{}, red, blue}
	first := image.NewPaletted(image.Rect(4, 6, 14, 11), pal)
	for i := range first.Pix {
		first.Pix[i] = 1
	}
	second := image.NewPaletted(image.Rect(0, 0, 30, 20), pal)
	for i := range second.Pix {
		second.Pix[i] = 2
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{first, second}, Delay: []int{10, 10},
		Config: image.Config{ColorModel: pal, Width: 30, Height: 20}}); err != nil {
		t.Fatal(err)
	}
	img, info, err := Decode(&buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 30, 20) || info.Width != 30 || info.Height != 20 {
		t.Fatalf("bounds %v, info %+v; want the 30×20 screen", img.Bounds(), info)
	}
	if got := nrgbaAt(img, 5, 7); got != red {
		t.Errorf("inside the first frame: %v, want red", got)
	}
	if got := nrgbaAt(img, 20, 15); got.A != 0 {
		t.Errorf("outside the first frame: %v, want transparent (not the second frame)", got)
	}
}

func TestGreyAndAlpha(t *testing.T) {
	grey := image.NewGray(image.Rect(0, 0, 3, 2))
	grey.Pix = []uint8{0, 100, 200, 50, 150, 250}
	img, _, err := Decode(bytes.NewReader(encode(t, "png", grey)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ToRGB(img), []uint8{0, 0, 0, 100, 100, 100, 200, 200, 200, 50, 50, 50, 150, 150, 150, 250, 250, 250}; !bytes.Equal(got, want) {
		t.Errorf("grey ToRGB = %v, want %v", got, want)
	}

	// Half-transparent pixels keep their own colour (alpha dropped, not composited), as the reference reads them.
	alpha := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	alpha.Pix = []uint8{200, 100, 50, 128, 10, 20, 30, 0}
	img, _, err = Decode(bytes.NewReader(encode(t, "png", alpha)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ToRGB(img), []uint8{200, 100, 50, 10, 20, 30}; !bytes.Equal(got, want) {
		t.Errorf("alpha ToRGB = %v, want %v", got, want)
	}

	// 16-bit PNG reduces to the high byte.
	deep := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	deep.SetNRGBA64(0, 0, color.NRGBA64{0x1234, 0xABCD, 0xFFFF, 0xFFFF})
	img, _, err = Decode(bytes.NewReader(encode(t, "png", deep)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ToRGB(img), []uint8{0x12, 0xAB, 0xFF}; !bytes.Equal(got, want) {
		t.Errorf("16-bit ToRGB = %v, want %v", got, want)
	}
}

// tiffWithOrientation is an EXIF TIFF structure whose IFD0 holds one tag before the orientation
// and the orientation tag itself.
func tiffWithOrientation(order binary.ByteOrder, o uint16) []byte {
	var b bytes.Buffer
	if order == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	w := func(v any) { _ = binary.Write(&b, order, v) }
	w(uint16(42))
	w(uint32(8))      // IFD0 offset
	w(uint16(2))      // entries
	w(uint16(0x010F)) // Make, ASCII, 4 bytes inline
	w(uint16(2))
	w(uint32(4))
	b.WriteString("Cam\x00")
	w(uint16(tagOrientation))
	w(uint16(3)) // SHORT
	w(uint32(1))
	w(o)
	w(uint16(0))
	w(uint32(0)) // no next IFD
	return b.Bytes()
}

// withAPP1 inserts APP1 segments right after the JPEG SOI marker.
func withAPP1(jpg []byte, payloads ...[]byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	for _, p := range payloads {
		out = append(out, 0xFF, 0xE1)
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)+2))
		out = append(out, p...)
	}
	return append(out, jpg[2:]...)
}

// withPNGChunk inserts a chunk right after IHDR.
func withPNGChunk(p []byte, typ string, data []byte) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, typ...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := append([]byte{}, p[:afterIHDR]...)
	out = append(out, chunk...)
	return append(out, p[afterIHDR:]...)
}

func TestEXIFOrientation(t *testing.T) {
	// The stored image is 32×16 with quadrants red, green / blue, white. The EXIF tag says where
	// its row 0 and column 0 belong (e.g. 6: row 0 on the right, column 0 at the top), so the
	// upright image has these quadrant colours: top left, top right, bottom left, bottom right.
	want := map[uint16][4]color.NRGBA{
		1: {red, green, blue, white},
		2: {green, red, white, blue},
		3: {white, blue, green, red},
		4: {blue, white, red, green},
		5: {red, blue, green, white},
		6: {blue, red, white, green},
		7: {white, green, blue, red},
		8: {green, white, red, blue},
	}
	stored := encode(t, "jpeg", quadrants(32, 16))
	xmp := []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")
	for o := uint16(1); o <= 8; o++ {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			t.Run(fmt.Sprintf("%d/%v", o, order), func(t *testing.T) {
				exif := append([]byte("Exif\x00\x00"), tiffWithOrientation(order, o)...)
				data := withAPP1(stored, xmp, exif) // an XMP APP1 first, as cameras often write
				img, info, err := Decode(bytes.NewReader(data), Limits{})
				if err != nil {
					t.Fatal(err)
				}
				wantW, wantH := 32, 16
				if o >= 5 {
					wantW, wantH = 16, 32
				}
				if info.Orientation != int(o) || info.Width != wantW || info.Height != wantH || img.Bounds().Dx() != wantW || img.Bounds().Dy() != wantH {
					t.Fatalf("info %+v, bounds %v; want orientation %d, %d×%d", info, img.Bounds(), o, wantW, wantH)
				}
				got := corners(img)
				for i := range got {
					if !near(got[i], want[o][i], 12) {
						t.Errorf("quadrant %d = %v, want %v", i, got[i], want[o][i])
					}
				}

				raw, info, err := Decode(bytes.NewReader(data), Limits{IgnoreOrientation: true})
				if err != nil {
					t.Fatal(err)
				}
				if info.Orientation != int(o) || raw.Bounds().Dx() != 32 || !near(corners(raw)[1], green, 12) {
					t.Errorf("IgnoreOrientation: info %+v bounds %v, want the stored 32×16 pixels", info, raw.Bounds())
				}
			})
		}
	}

	t.Run("png eXIf", func(t *testing.T) {
		data := withPNGChunk(encode(t, "png", quadrants(32, 16)), "eXIf", tiffWithOrientation(binary.BigEndian, 6))
		img, info, err := Decode(bytes.NewReader(data), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Orientation != 6 || corners(img) != want[6] {
			t.Errorf("orientation %d, quadrants %v; want 6, %v", info.Orientation, corners(img), want[6])
		}
	})

	t.Run("webp EXIF", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join("testdata", "quadrants-orientation6.webp"))
		if err != nil {
			t.Fatal(err)
		}
		img, info, err := Decode(bytes.NewReader(data), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		got := corners(img)
		if info.Orientation != 6 || info.Width != 24 || info.Height != 40 {
			t.Fatalf("info %+v, want orientation 6, 24×40", info)
		}
		for i := range got {
			if !near(got[i], want[6][i], 24) {
				t.Errorf("quadrant %d = %v, want %v", i, got[i], want[6][i])
			}
		}
	})

	t.Run("malformed EXIF is ignored", func(t *testing.T) {
		bad := [][]byte{
			[]byte("Exif\x00\x00II*\x00\xff\xff\xff\x7f"),                                  // IFD offset past the end
			[]byte("Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff"),                          // 65535 entries, none present
			append([]byte("Exif\x00\x00"), tiffWithOrientation(binary.LittleEndian, 9)...), // out of range
			[]byte("Exif\x00\x00"),
		}
		for _, b := range bad {
			img, info, err := Decode(bytes.NewReader(withAPP1(stored, b)), Limits{})
			if err != nil || info.Orientation != 1 || img.Bounds().Dx() != 32 {
				t.Errorf("EXIF %q: err %v, info %+v; want the image unrotated", b, err, info)
			}
		}
	})
}

func TestBombsAreRefusedBeforeDecoding(t *testing.T) {
	ihdr := binary.BigEndian.AppendUint32(nil, 100000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 100000)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	pngBomb := binary.BigEndian.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	pngBomb = append(pngBomb, "IHDR"...)
	pngBomb = append(pngBomb, ihdr...)
	pngBomb = binary.BigEndian.AppendUint32(pngBomb, crc32.ChecksumIEEE(pngBomb[12:]))

	// JPEG: SOI, JFIF APP0, then a baseline SOF0 claiming 65000×65000, three components.
	jpegBomb := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xFF, 0xC0, 0, 17, 8, 0xFD, 0xE8, 0xFD, 0xE8, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1}

	// GIF: logical screen and first image descriptor of 65535×65535.
	gifBomb := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\xff\xff\xff\xff\x00\x08")

	// BMP: 30000×30000 24-bit, only the headers.
	bmpBomb := []byte("BM")
	bmpBomb = binary.LittleEndian.AppendUint32(bmpBomb, 54)
	bmpBomb = append(bmpBomb, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0)
	bmpBomb = binary.LittleEndian.AppendUint32(bmpBomb, 30000)
	bmpBomb = binary.LittleEndian.AppendUint32(bmpBomb, 30000)
	bmpBomb = append(bmpBomb, 1, 0, 24, 0, 0, 0, 0, 0)
	bmpBomb = append(bmpBomb, make([]byte, 20)...)

	tests := []struct {
		name string
		data []byte
		lim  Limits
	}{
		{"png 100000×100000", pngBomb, Limits{}},
		{"jpeg 65000×65000", jpegBomb, Limits{}},
		{"gif 65535×65535", gifBomb, Limits{}},
		{"bmp 30000×30000", bmpBomb, Limits{}},
		{"png 40×24 over a 500-pixel limit", encode(t, "png", quadrants(40, 24)), Limits{MaxPixels: 500}},
		{"webp 40×24 over a 500-pixel limit", encode(t, "webp", nil), Limits{MaxPixels: 500}},
		{"png over a 100-byte limit", encode(t, "png", quadrants(40, 24)), Limits{MaxBytes: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			img, _, err := Decode(bytes.NewReader(tt.data), tt.lim)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) || img != nil {
				t.Fatalf("Decode = %v, %v; want ErrTooLarge", img, err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("refusing allocated %d bytes, want < 1 MiB", alloc)
			}
			t.Log(err)
		})
	}
}

func TestBadInput(t *testing.T) {
	src := quadrants(40, 24)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrUnsupported},
		{"text", []byte("hello, this is not an image"), ErrUnsupported},
		{"tiff", []byte("II*\x00\x08\x00\x00\x00\x00\x00"), ErrUnsupported},
		{"png zero width", pngZeroWidth(), ErrCorrupt},
		// SOF9: arithmetic coding, valid JPEG that image/jpeg does not decode
		{"arithmetic-coded jpeg", []byte{0xFF, 0xD8, 0xFF, 0xC9, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x11, 0, 0xFF, 0xD9}, ErrUnsupported},
	}
	for _, format := range []string{"jpeg", "png", "gif", "bmp", "webp"} {
		data := encode(t, format, src)
		tests = append(tests,
			struct {
				name string
				data []byte
				want error
			}{format + " truncated", data[:len(data)*2/3], ErrCorrupt},
			struct {
				name string
				data []byte
				want error
			}{format + " header only", data[:min(len(data), 40)], ErrCorrupt})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _, err := Decode(bytes.NewReader(tt.data), Limits{})
			if !errors.Is(err, tt.want) || img != nil {
				t.Fatalf("Decode = %v, %v; want %v", img, err, tt.want)
			}
		})
	}
}

func pngZeroWidth() []byte {
	p := binary.BigEndian.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	p = append(p, "IHDR\x00\x00\x00\x00\x00\x00\x00\x10\x08\x02\x00\x00\x00"...)
	return binary.BigEndian.AppendUint32(p, crc32.ChecksumIEEE(p[12:]))
}

func TestDecodeFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.png")
	if err := os.WriteFile(good, encode(t, "png", quadrants(8, 6)), 0o644); err != nil {
		t.Fatal(err)
	}
	img, info, err := DecodeFile(good, Limits{})
	if err != nil || img.Bounds().Dx() != 8 || info.Format != "png" {
		t.Fatalf("DecodeFile(good) = %v, %+v, %v", img.Bounds(), info, err)
	}
	bad := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(bad, []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := DecodeFile(bad, Limits{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), bad) {
		t.Errorf("DecodeFile(bad) error %v: want ErrUnsupported naming the file", err)
	}
	if _, info, err := DecodeFile(good, Limits{MaxBytes: 10}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), good) || info.Bytes < 10 {
		t.Errorf("DecodeFile(good) over a 10-byte limit: %+v, %v; want ErrTooLarge naming the file", info, err)
	}
	if _, _, err := DecodeFile(filepath.Join(dir, "missing.jpg"), Limits{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DecodeFile(missing) error %v: want os.ErrNotExist", err)
	}
}

func FuzzDecode(f *testing.F) {
	src := quadrants(12, 8)
	for _, format := range []string{"jpeg", "png", "gif", "bmp", "webp"} {
		f.Add(encode(f, format, src))
	}
	f.Add(withAPP1(encode(f, "jpeg", src), append([]byte("Exif\x00\x00"), tiffWithOrientation(binary.BigEndian, 6)...)))
	f.Add(withPNGChunk(encode(f, "png", src), "eXIf", tiffWithOrientation(binary.LittleEndian, 8)))
	const maxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		img, info, err := Decode(bytes.NewReader(data), Limits{MaxPixels: maxPixels})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v is none of ErrCorrupt, ErrUnsupported, ErrTooLarge", err)
			}
			return
		}
		b := img.Bounds()
		if int64(b.Dx())*int64(b.Dy()) > maxPixels || b.Dx() != info.Width || b.Dy() != info.Height {
			t.Fatalf("bounds %v, info %+v: over the limit or inconsistent", b, info)
		}
		if rgb := ToRGB(img); len(rgb) != b.Dx()*b.Dy()*3 {
			t.Fatalf("ToRGB length %d for %v", len(rgb), b)
		}
	})
}

// TestDecodeHeader: the header check sees every format's size, refuses bombs and non-images as
// Decode does, and reads no further into the file than the header.
func TestDecodeHeader(t *testing.T) {
	for _, format := range []string{"jpeg", "png", "gif", "bmp", "webp"} {
		data := encode(t, format, quadrants(40, 24))
		r := &countingReader{r: bytes.NewReader(append(data, make([]byte, 1<<20)...))}
		info, err := DecodeHeader(r, Limits{})
		if err != nil || info.Format != format || info.Width != 40 || info.Height != 24 {
			t.Errorf("%s: DecodeHeader = %+v, %v", format, info, err)
		}
		if r.n > 64<<10 {
			t.Errorf("%s: read %d bytes for the header", format, r.n)
		}
		if _, err := DecodeHeader(bytes.NewReader(data), Limits{MaxPixels: 500}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s 40×24 with a 500-pixel limit: %v, want ErrTooLarge", format, err)
		}
	}
	jpegBomb := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xFF, 0xC0, 0, 17, 8, 0xFD, 0xE8, 0xFD, 0xE8, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1}
	for name, tt := range map[string]struct {
		data []byte
		want error
	}{
		"jpeg 65000×65000": {jpegBomb, ErrTooLarge},
		"empty":            {nil, ErrUnsupported},
		"text":             {[]byte("hello, this is not an image"), ErrUnsupported},
		"png zero width":   {pngZeroWidth(), ErrCorrupt},
		"jpeg header only": {encode(t, "jpeg", quadrants(40, 24))[:40], ErrCorrupt},
	} {
		if _, err := DecodeHeader(bytes.NewReader(tt.data), Limits{}); !errors.Is(err, tt.want) {
			t.Errorf("%s: DecodeHeader error %v, want %v", name, err, tt.want)
		}
	}
}

type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
