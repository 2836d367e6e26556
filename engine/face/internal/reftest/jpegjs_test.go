package reftest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
)

// The SHA-256 of the RGB bytes jpeg-js 0.4.4 decodes from each image (node, the reference
// runner's decode()).
var jpegJSPixels = map[string]string{
	"sample1.jpg":           "22ba0538c1582ea34b99d83341e714096b5100097c3e2190f2f7945293881721",
	"sample2.jpg":           "47e05bd0e09f71df0509329f3df3e671fb6dd433145107987859ca43c49429a1",
	"sample3.jpg":           "8dcdc48b528905a25374e26c198226c1fff4cbd26eb20ae8c9978296fa7335ce",
	"sample4.jpg":           "548a280a6b6002254ee4e03195d3938e8da5dd9b175821d6884311011a8f3b1f",
	"sample5.jpg":           "ec1d962a3604aa0ca32a08da5c9fe9bd417780ba9a429c5d6997e987b9d103bc",
	"sample6.jpg":           "525894942bc82da0d3b81b209fd25208779cb61c873c7a8c41e5f3f91ea19fcb",
	"angry_cropped.jpg":     "fc9e2ca74997e888dcac82704e98a3937705068c91ff3376575869720296924d",
	"faces.jpg":             "f2c2ecd371036182e46ebc9288790587b24dfff564ce11eceacf56461e5fe346",
	"surprised_cropped.jpg": "ae25fb18cfc352e487169ab3b66763b207927dedd8504369592636061ca6b26b",
}

func TestDecodeLikeJPEGJS(t *testing.T) {
	for _, set := range []struct {
		name string
		dir  func(testing.TB) string
	}{{"npm", testutil.DemoDir}, {"shared", testutil.SharedTestdata}} {
		t.Run(set.name, func(t *testing.T) { checkJPEGJS(t, set.dir(t)) })
	}
	if _, err := decodeJPEGJS([]byte("\xff\xd8\xff\xc2\x00\x11\x08\x00\x10\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01")); err != errJPEGUnsupported {
		t.Errorf("progressive frame: %v, want errJPEGUnsupported", err)
	}
}

func checkJPEGJS(t *testing.T, dir string) {
	for name, want := range jpegJSPixels {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue // the other directory's image
		}
		t.Run(name, func(t *testing.T) {
			img, err := decodeJPEGJS(data)
			if err != nil {
				t.Fatal(err)
			}
			b := img.Bounds()
			rgb := make([]byte, 0, b.Dx()*b.Dy()*3)
			for i := 0; i < len(img.Pix); i += 4 {
				rgb = append(rgb, img.Pix[i:i+3]...)
			}
			sum := sha256.Sum256(rgb)
			if got := hex.EncodeToString(sum[:]); got != want {
				// Say how far off: against image/jpeg, a correct decode is within a few levels.
				ref, _ := jpeg.Decode(bytes.NewReader(data))
				var diff int
				if ref != nil {
					for y := 0; y < b.Dy(); y++ {
						for x := 0; x < b.Dx(); x++ {
							r1, _, _, _ := ref.At(x, y).RGBA()
							diff = max(diff, abs(int(r1>>8)-int(img.Pix[img.PixOffset(x, y)])))
						}
					}
				}
				t.Errorf("pixels differ from jpeg-js's (SHA-256 %s); max red difference to image/jpeg %d", got, diff)
			}
		})
	}
}

func abs(v int) int { return max(v, -v) }
