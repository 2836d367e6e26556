package testutil

import (
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TightFaceCrop returns a PNG of ../shared's face1.png cut to the middle of the face (90×90 of
// its 150×150, from the brows to below the mouth): a face a person recognises at once, in which
// the detectors find no face, so enrolment takes the whole photo as the face. face1.png itself
// is found since the default detector's padded pass.
func TightFaceCrop(t testing.TB) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(SharedTestdata(t), "face1.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode face1.png: %v", err)
	}
	r := image.Rect(30, 45, 120, 135).Add(src.Bounds().Min)
	dst := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Bounds(), src, r.Min, draw.Src)
	var b bytes.Buffer
	if err := png.Encode(&b, dst); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
