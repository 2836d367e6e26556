package imgtensor

import (
	"image"
	"testing"
)

// BenchmarkInto: a 1920×1280 photo (4:2:2 YCbCr as image/jpeg decodes the demo photos, and
// NRGBA) to the float tensor.
func BenchmarkInto(b *testing.B) {
	r := image.Rect(0, 0, 1920, 1280)
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio422)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(i*3), uint8(i*7)
	}
	nrgba := image.NewNRGBA(r)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(i)
	}
	buf := make([]float32, 1920*1280*3)
	for _, tc := range []struct {
		name string
		img  image.Image
	}{{"ycbcr", ycc}, {"nrgba", nrgba}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				Into(buf, tc.img)
			}
		})
	}
}
