package annotate

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/facecluster/facecluster/engine/face/imageio"
)

func grey(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	return img
}

func TestDraw(t *testing.T) {
	src := grey(200, 120)
	box := image.Rect(50, 20, 110, 80)
	out := Draw(src, []Label{{Box: box, Text: "mary", Color: Green}, {Box: image.Rect(150, 90, 260, 140), Color: Red}})

	if out.Bounds() != src.Bounds() {
		t.Fatalf("bounds %v, want %v", out.Bounds(), src.Bounds())
	}
	if src.Pix[20*200+50] != 128 {
		t.Fatal("Draw changed its input")
	}
	if got := out.RGBAAt(50, 50); got != Green {
		t.Errorf("left edge of the box = %v, want green", got)
	}
	if got := out.RGBAAt(80, 50); got != (color.RGBA{128, 128, 128, 255}) {
		t.Errorf("inside of the box = %v, want untouched grey", got)
	}
	// The caption band sits under the box: green background with some white text pixels.
	var band, white int
	for y := 80; y < 95; y++ {
		for x := 50; x < 80; x++ {
			switch out.RGBAAt(x, y) {
			case Green:
				band++
			case color.RGBA{255, 255, 255, 255}:
				white++
			}
		}
	}
	if band == 0 || white == 0 {
		t.Errorf("caption under the box: %d band pixels, %d text pixels; want both", band, white)
	}
	// A box partly outside the image is clipped, not a panic.
	if got := out.RGBAAt(150, 100); got != Red {
		t.Errorf("clipped box edge = %v, want red", got)
	}
}

func TestWriteJPEG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.jpg")
	if err := WriteJPEG(path, Draw(grey(64, 48), []Label{{Box: image.Rect(8, 8, 40, 40), Text: "x", Color: Blue}})); err != nil {
		t.Fatal(err)
	}
	img, info, err := imageio.DecodeFile(path, imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "jpeg" || img.Bounds().Dx() != 64 || img.Bounds().Dy() != 48 {
		t.Errorf("wrote %s %v, want a 64×48 JPEG", info.Format, img.Bounds())
	}
	if err := WriteJPEG(filepath.Join(path, "below-a-file.jpg"), grey(4, 4)); err == nil {
		t.Error("writing under a file: want an error")
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Errorf("the output directory holds %v (%v), want out.jpg alone", entries, err)
	}
}

// TestWriteJPEGMode: a copy is as readable as any file the user makes (0644 less the umask),
// not private like a temporary file.
func TestWriteJPEGMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "out.jpg")
	if err := WriteJPEG(path, grey(8, 8)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want -rw-r--r--", st.Mode().Perm())
	}
}
