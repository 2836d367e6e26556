package face

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/facecluster/facecluster/engine/face/internal/nets"
	"github.com/facecluster/facecluster/engine/face/internal/reftest"
)

// contains reports whether b contains the point (x, y).
func (b Box) contains(x, y float64) bool {
	return b.X <= x && x <= b.X+b.W && b.Y <= y && y <= b.Y+b.H
}

func boxIoU(a, b Box) float64 {
	return iou(nets.Detection{X: a.X, Y: a.Y, W: a.W, H: a.H}, nets.Detection{X: b.X, Y: b.Y, W: b.W, H: b.H})
}

// TestDefaultDetectorFindsFacesFillingThePhoto: face1.png and face2.png (150×150 portraits, one
// face filling each) are the photos the reference's SSD pass finds no face in; the default
// detector finds that face, once.
func TestDefaultDetectorFindsFacesFillingThePhoto(t *testing.T) {
	e := testEngine(t)
	set := reftest.Shared(t)
	for _, name := range []string{"face1.png", "face2.png"} {
		t.Run(name, func(t *testing.T) {
			img := set.Decode(t, name)
			raw, err := e.Detect(context.Background(), img, Options{Detector: DetectorSSDRaw})
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != len(set.Images[name].SSD) {
				t.Errorf("ssd-raw: %d faces, the reference %d", len(raw), len(set.Images[name].SSD))
			}
			faces, err := e.Analyze(context.Background(), img, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(faces) != 1 {
				t.Fatalf("%d faces, want the one filling the photo", len(faces))
			}
			b := img.Bounds()
			f := faces[0]
			if !f.Box.contains(float64(b.Dx())/2, float64(b.Dy())/2) || f.Box.W < float64(b.Dx())/2 {
				t.Errorf("face %+v: not the face filling the %d×%d photo", f.Box, b.Dx(), b.Dy())
			}
			// The landmarks of the face found: the eyes above the mouth, inside the box.
			eye, mouth := centre(f.Landmarks.LeftEye()), centre(f.Landmarks.Mouth())
			if !f.Box.contains(eye.X, eye.Y) || !f.Box.contains(mouth.X, mouth.Y) || eye.Y >= mouth.Y {
				t.Errorf("landmarks: eye %v, mouth %v in box %+v", eye, mouth, f.Box)
			}
		})
	}
}

// TestDefaultDetectorKeepsTheReferenceFaces: on the demo photos and the shared fixtures the
// default detector finds every face the reference's SSD finds (a box overlapping it by more
// than half) and no other, but for the portraits the reference misses (face1.png, face2.png:
// one each).
func TestDefaultDetectorKeepsTheReferenceFaces(t *testing.T) {
	e := testEngine(t)
	gained := map[string]int{"face1.png": 1, "face2.png": 1}
	for _, load := range []func(testing.TB) *reftest.Set{reftest.NPMSamples, reftest.Shared} {
		set := load(t)
		for _, name := range set.Names() {
			t.Run(set.Name+"/"+name, func(t *testing.T) {
				want := set.Images[name].SSD
				got, err := e.Detect(context.Background(), set.Decode(t, name), Options{})
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range want {
					found := false
					for _, d := range got {
						found = found || boxIoU(d.Box, boxOf(w.Box)) > 0.5
					}
					if !found {
						t.Errorf("the reference's face %s is missing from %s", reftest.BoxString(w.Box), fmtBoxes(got))
					}
				}
				if len(got) != len(want)+gained[name] {
					t.Errorf("%d faces, want the reference's %d + %d", len(got), len(want), gained[name])
				}
			})
		}
	}
}

// TestTilingFindsSmallFaces: a 40-pixel face in a 1920×1080 photo is too small for the
// whole-photo passes (SSD sees the photo 512 pixels wide: an 11-pixel face) and found with
// 384-pixel tiles, once, where it is.
func TestTilingFindsSmallFaces(t *testing.T) {
	e := testEngine(t)
	// On a tile border (x = 864 starts the fourth tile column; rows start at 0, 288, 576, 696):
	// the cut copy in one tile is dropped, the whole one in the next found.
	at := image.Rect(850, 580, 890, 620)
	frame := smallFaceFrame(t, at)
	ctx := context.Background()
	whole, err := e.Detect(ctx, frame, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 0 {
		t.Errorf("without tiles: %s, want none (the face is too small)", fmtBoxes(whole))
	}
	tiled, err := e.Detect(ctx, frame, Options{TileSize: 384})
	if err != nil {
		t.Fatal(err)
	}
	if len(tiled) != 1 || !tiled[0].Box.contains(870, 600) || tiled[0].Box.W > 60 {
		t.Errorf("with 384-pixel tiles: %s, want the one 40-pixel face at %v", fmtBoxes(tiled), at)
	}
}

// smallFaceFrame is a 1920×1080 photo of an even green-grey with the portrait face1.png (the
// face filling it) scaled into the rectangle at.
func smallFaceFrame(t testing.TB, at image.Rectangle) image.Image {
	portrait := reftest.Shared(t).Decode(t, "face1.png")
	frame := image.NewRGBA(image.Rect(0, 0, 1920, 1080))
	xdraw.Draw(frame, frame.Bounds(), &image.Uniform{color.RGBA{90, 110, 100, 255}}, image.Point{}, xdraw.Src)
	xdraw.CatmullRom.Scale(frame, at, portrait, portrait.Bounds(), xdraw.Src, nil)
	return frame
}

func TestTilesCoverThePhoto(t *testing.T) {
	for _, tc := range []struct {
		w, h, size, want int
	}{
		{1920, 1080, 384, 7 * 4},
		{384, 384, 384, 0}, // fits in one tile: the whole-photo passes see it at least as well
		{1000, 300, 384, 4},
		{1920, 1080, 0, 0},
	} {
		ts := tiles(tc.w, tc.h, tc.size)
		if len(ts) != tc.want {
			t.Errorf("%d×%d in %d-pixel tiles: %d tiles, want %d", tc.w, tc.h, tc.size, len(ts), tc.want)
		}
		covered := image.NewAlpha(image.Rect(0, 0, tc.w, tc.h))
		for _, r := range ts {
			if !r.In(covered.Bounds()) || r.Dx() != min(tc.size, tc.w) || r.Dy() != min(tc.size, tc.h) {
				t.Errorf("%d×%d: tile %v", tc.w, tc.h, r)
			}
			xdraw.Draw(covered, r, image.Opaque, image.Point{}, xdraw.Src)
		}
		if len(ts) > 0 && !covered.Opaque() {
			t.Errorf("%d×%d in %d-pixel tiles: not all covered", tc.w, tc.h, tc.size)
		}
	}
}

func fmtBoxes(ds []Detection) string {
	s := "["
	for i, d := range ds {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.0f,%.0f %.0f×%.0f (%.2f)", d.Box.X, d.Box.Y, d.Box.W, d.Box.H, d.Score)
	}
	return s + "]"
}

// TestConfirmLarge: the reference pass's faces larger than 60 % of the photo stay only where the
// padded pass found them too; smaller ones stay as they are.
func TestConfirmLarge(t *testing.T) {
	const w, h = 400, 500
	small := nets.Detection{X: 10, Y: 10, W: 100, H: 120, Score: 0.7}
	wide := nets.Detection{X: 0, Y: 50, W: 390, H: 200, Score: 0.8}         // 97 % of the width
	tall := nets.Detection{X: 100, Y: 0, W: 200, H: 320, Score: 0.6}        // 64 % of the height
	padded := []nets.Detection{{X: 110, Y: 10, W: 190, H: 300, Score: 0.9}} // tall, IoU 0.89
	got := confirmLarge([]nets.Detection{small, wide, tall}, padded, w, h)
	if len(got) != 2 || got[0] != small || got[1] != tall {
		t.Errorf("kept %+v, want the small face and the confirmed tall one", got)
	}
	if got := confirmLarge([]nets.Detection{wide}, nil, w, h); len(got) != 0 {
		t.Errorf("an unconfirmed large face kept: %+v", got)
	}
}
