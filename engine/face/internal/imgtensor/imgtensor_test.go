package imgtensor

import (
	"image"
	"image/color"
	"testing"
)

// opaque hides an image's concrete type so that FromImage takes its generic path.
type opaque struct{ image.Image }

// TestFastPathsMatchGenericPath checks each image type's fast path against the generic one,
// and IntoRGB8 against Into.
func TestFastPathsMatchGenericPath(t *testing.T) {
	r := image.Rect(3, 5, 14, 12) // odd size, non-zero origin
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 7)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(i*13), uint8(255-i*5)
	}
	ycc.Y[0], ycc.Cb[0], ycc.Cr[0] = 100, 150, 90
	nrgba, rgba, gray := image.NewNRGBA(r), image.NewRGBA(r), image.NewGray(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.NRGBA{uint8(x * 20), uint8(y * 9), uint8(x * y), uint8(40 + x*y)}
			nrgba.SetNRGBA(x, y, c)
			rgba.Set(x, y, color.NRGBA{c.R, c.G, c.B, 255}) // opaque: premultiplication is exact
			gray.SetGray(x, y, color.Gray{uint8(x*y + 3)})
		}
	}
	for _, tc := range []struct {
		name string
		img  image.Image
	}{{"nrgba", nrgba}, {"rgba", rgba}, {"gray", gray}, {"ycbcr", ycc}, {"generic", opaque{nrgba}}} {
		// The 8-bit conversion gives the same values.
		f := FromImage(tc.img)
		b := IntoRGB8(make([]uint8, len(f.Data)), tc.img)
		for i, v := range f.Data {
			if float32(b[i]) != v {
				t.Fatalf("%s: 8-bit value %d = %v, float %v", tc.name, i, b[i], v)
			}
		}
	}
	for _, tc := range []struct {
		name string
		img  image.Image
	}{{"nrgba", nrgba}, {"rgba", rgba}, {"gray", gray}} {
		fast, slow := FromImage(tc.img), FromImage(opaque{tc.img})
		if fast.H != r.Dy() || fast.W != r.Dx() || fast.C != 3 {
			t.Fatalf("%s: shape %s", tc.name, fast.Shape())
		}
		for i := range fast.Data {
			if fast.Data[i] != slow.Data[i] {
				t.Fatalf("%s: value %d = %v, generic path %v", tc.name, i, fast.Data[i], slow.Data[i])
			}
		}
	}
	// YCbCr follows the reference decoder's truncating conversion: within one level of image/color.
	fast, slow := FromImage(ycc), FromImage(opaque{ycc})
	for i := range fast.Data {
		if d := fast.Data[i] - slow.Data[i]; d > 0 || d < -1 {
			t.Fatalf("ycbcr: value %d = %v, image/color gives %v", i, fast.Data[i], slow.Data[i])
		}
	}
	// Y=100 Cb=150 Cr=90: 46.72, 119.57, 138.98 truncated (image/color rounds to 47, 120, 139).
	if got := fast.Data[0:3]; got[0] != 46 || got[1] != 119 || got[2] != 138 {
		t.Errorf("ycbcr pixel 0 = %v, want [46 119 138]", got)
	}
}

func TestCrop(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 5, 4))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	c := Crop(FromImage(img), 1, 2, 3, 2)
	want := []float32{11, 12, 13, 16, 17, 18}
	for i, w := range want {
		if c.Data[3*i] != w || c.Data[3*i+2] != w {
			t.Fatalf("crop pixel %d = %v, want %v", i, c.Data[3*i:3*i+3], w)
		}
	}
}

func TestYCbCrTablesMatchFormula(t *testing.T) {
	var lut ycbcrTables
	lut.init()
	for y := range 256 {
		for cb := range 256 {
			for cr := range 256 {
				r1, g1, b1 := lut.rgb(uint8(y), uint8(cb), uint8(cr))
				r2, g2, b2 := ycbcrToRGB(uint8(y), uint8(cb), uint8(cr))
				if r1 != r2 || g1 != g2 || b1 != b2 {
					t.Fatalf("Y %d Cb %d Cr %d: table %v %v %v, formula %v %v %v", y, cb, cr, r1, g1, b1, r2, g2, b2)
				}
			}
		}
	}
}

// TestYCbCrEveryRatio: the row-wise chroma indexing agrees with image.YCbCr's own At for every
// subsampling ratio and an odd origin.
func TestYCbCrEveryRatio(t *testing.T) {
	r := image.Rect(3, 5, 22, 16)
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		m := image.NewYCbCr(r, ratio)
		for i := range m.Y {
			m.Y[i] = uint8(i * 7)
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = uint8(i*29), uint8(255-i*13)
		}
		got := FromImage(m)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := m.YCbCrAt(x, y)
				wr, wg, wb := ycbcrToRGB(c.Y, c.Cb, c.Cr)
				o := ((y-r.Min.Y)*r.Dx() + x - r.Min.X) * 3
				if g := got.Data[o : o+3]; g[0] != wr || g[1] != wg || g[2] != wb {
					t.Fatalf("%v at %d,%d: %v, want %v %v %v", ratio, x, y, g, wr, wg, wb)
				}
			}
		}
	}
}
