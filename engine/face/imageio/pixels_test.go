package imageio

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// The row-wise YCbCr conversion must equal the per-pixel one for every subsampling ratio, also
// on a sub-image at odd coordinates.
func TestYCbCrFastPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		full := image.NewYCbCr(image.Rect(0, 0, 37, 23), ratio)
		for _, p := range [][]uint8{full.Y, full.Cb, full.Cr} {
			for i := range p {
				p[i] = uint8(rng.IntN(256))
			}
		}
		for _, img := range []*image.YCbCr{full, full.SubImage(image.Rect(3, 5, 30, 20)).(*image.YCbCr)} {
			want := make([]uint8, img.Rect.Dx()*img.Rect.Dy()*3)
			genericRGB(img, want)
			if got := ToRGB(img); !bytes.Equal(got, want) {
				t.Errorf("%v %v: ToRGB differs from the per-pixel conversion", ratio, img.Rect)
			}
			n := ToNRGBA(img)
			for i := 0; i < len(want)/3; i++ {
				if !bytes.Equal(n.Pix[4*i:4*i+3], want[3*i:3*i+3]) || n.Pix[4*i+3] != 255 {
					t.Fatalf("%v %v: ToNRGBA pixel %d = %v, want %v opaque", ratio, img.Rect, i, n.Pix[4*i:4*i+4], want[3*i:3*i+3])
				}
			}
		}
	}
}

// Orient against the definition of each orientation, pixel by pixel, on a non-square image.
func TestOrientDefinition(t *testing.T) {
	const w, h = 5, 3
	src := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	at := func(x, y int) []uint8 { return src.Pix[src.PixOffset(x, y) : src.PixOffset(x, y)+4] }
	// source pixel shown at (dx, dy) of the upright image
	from := map[int]func(dx, dy int) (int, int){
		2: func(dx, dy int) (int, int) { return w - 1 - dx, dy },
		3: func(dx, dy int) (int, int) { return w - 1 - dx, h - 1 - dy },
		4: func(dx, dy int) (int, int) { return dx, h - 1 - dy },
		5: func(dx, dy int) (int, int) { return dy, dx },
		6: func(dx, dy int) (int, int) { return dy, h - 1 - dx },
		7: func(dx, dy int) (int, int) { return w - 1 - dy, h - 1 - dx },
		8: func(dx, dy int) (int, int) { return w - 1 - dy, dx },
	}
	for o, f := range from {
		got := Orient(src, o).(*image.NRGBA)
		for dy := range got.Rect.Dy() {
			for dx := range got.Rect.Dx() {
				sx, sy := f(dx, dy)
				if p := got.Pix[got.PixOffset(dx, dy):][:4]; !bytes.Equal(p, at(sx, sy)) {
					t.Fatalf("orientation %d: (%d,%d) = %v, want source (%d,%d) %v", o, dx, dy, p, sx, sy, at(sx, sy))
				}
			}
		}
	}
	if Orient(src, 1) != image.Image(src) {
		t.Error("orientation 1 must return the image itself")
	}
}

// The RGBA and paletted fast paths of ToRGB equal the per-pixel conversion, transparent and
// half-transparent pixels included, also on sub-images.
func TestToRGBFastPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rgba := image.NewRGBA(image.Rect(0, 0, 19, 11))
	for i := 0; i < len(rgba.Pix); i += 4 {
		a := uint8(rng.IntN(256))
		switch rng.IntN(3) {
		case 0:
			a = 255
		case 1:
			a = 0
		}
		for k := range 3 { // premultiplied: no channel above alpha
			rgba.Pix[i+k] = uint8(rng.IntN(int(a) + 1))
		}
		rgba.Pix[i+3] = a
	}
	pal := image.NewPaletted(image.Rect(0, 0, 19, 11), color.Palette{color.Black, color.NRGBA{10, 200, 30, 128}, color.White})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(rng.IntN(3))
	}
	for _, img := range []image.Image{rgba, rgba.SubImage(image.Rect(2, 3, 17, 9)), pal, pal.SubImage(image.Rect(1, 1, 5, 10))} {
		b := img.Bounds()
		want := make([]uint8, b.Dx()*b.Dy()*3)
		genericRGB(img, want)
		if got := ToRGB(img); !bytes.Equal(got, want) {
			t.Errorf("%T %v: ToRGB differs from the per-pixel conversion", img, b)
		}
	}
}
