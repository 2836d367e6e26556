package nets

import (
	"path/filepath"
	"testing"

	"github.com/facecluster/facecluster/engine/face/internal/imgtensor"
	"github.com/facecluster/facecluster/engine/face/internal/reftest"
	"github.com/facecluster/facecluster/engine/face/internal/weights"
	"github.com/facecluster/facecluster/engine/internal/nn"
	"github.com/facecluster/facecluster/internal/testutil"
)

// loadWeights reads a model's manifest from the installed models directory.
func loadWeights(t testing.TB, model string) *weights.Set {
	t.Helper()
	s, err := weights.LoadFile(filepath.Join(testutil.ModelsDir(t), model+"-weights_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWholeImageParity runs the recognition and landmark nets on whole images ("the image is one
// face") and compares with the reference's whole_image_descriptor and whole_image_landmarks68.
func TestWholeImageParity(t *testing.T) {
	rec, err := NewRecognition(loadWeights(t, "face_recognition_model"))
	if err != nil {
		t.Fatal(err)
	}
	lm, err := NewLandmark68(loadWeights(t, "face_landmark_68_model"))
	if err != nil {
		t.Fatal(err)
	}
	sets := []func(testing.TB) *reftest.Set{reftest.NPMSamples, reftest.Shared}
	for _, load := range sets {
		set := load(t)
		for _, name := range set.Names() {
			t.Run(set.Name+"/"+name, func(t *testing.T) {
				want := set.Images[name]
				decoded, exact := set.Decode(t, name), set.Exact(t, name)
				img := imgtensor.FromImage(decoded)
				d := rec.Describe(img)
				if dist := reftest.L2(d[:], want.WholeDescriptor); dist >= 0.01 {
					t.Errorf("whole-image descriptor is %.4f from the reference's (limit 0.01)", dist)
				}
				pts := lm.Detect(img)
				got := make([][2]float64, len(pts))
				for i, p := range pts {
					got[i] = [2]float64{float64(p[0]), float64(p[1])}
				}
				// With pixels not exactly the reference's: 0.2 % of the side for photos larger
				// than 1000 px. The net sees a bilinear resize that samples single pixels, and
				// image/jpeg's IDCT differs from jpeg-js's by ±1 level on ~4 % of the pixels.
				// Fed jpeg-js's own pixels of the demo photos this net lands within 0.001 px.
				limit := 2.0
				if !exact {
					limit = max(2, 0.002*float64(max(want.Width, want.Height)))
				}
				if m := reftest.MaxPointDist(got, want.WholeLandmarks); m > limit {
					t.Errorf("whole-image landmarks up to %.2f px from the reference's (limit %.1f)", m, limit)
				}
			})
		}
	}
}

// TestSquareInputMatchesPadThenResize checks that the virtual padding gives exactly what padding
// the image and resizing it with nn.ResizeBilinear gives.
func TestSquareInputMatchesPadThenResize(t *testing.T) {
	for _, tc := range []struct {
		h, w, size int
		centre     bool
	}{
		{5, 9, 4, true}, {9, 5, 7, true}, {9, 6, 150, true}, {6, 9, 112, false}, {7, 7, 3, true}, {8, 3, 16, false}, {1, 4, 5, true},
	} {
		img := nn.NewTensor(tc.h, tc.w, 3)
		for i := range img.Data {
			img.Data[i] = float32((i*37)%256) + 0.25
		}
		side := max(tc.h, tc.w)
		var p nn.Padding
		diff := side - min(tc.h, tc.w)
		after := diff
		if tc.centre {
			after = (diff + 1) / 2
		}
		if tc.h < tc.w {
			p.Bottom, p.Top = after, diff-after
		} else {
			p.Right, p.Left = after, diff-after
		}
		want := nn.ResizeBilinear(nn.PadSpatial(img, p), tc.size, tc.size)
		got := SquareInput(img, tc.size, tc.centre)
		for i := range want.Data {
			if got.Data[i] != want.Data[i] {
				t.Fatalf("%+v: value %d = %v, want %v", tc, i, got.Data[i], want.Data[i])
			}
		}
	}
}

// TestDescribeBatchMatchesDescribe runs batches of face crops of different sizes (one, a
// photo's worth, more than maxBatch) through DescribeBatch and expects each face's Describe
// descriptor bit for bit: every row of a batched gemm is computed as it is alone.
func TestDescribeBatchMatchesDescribe(t *testing.T) {
	rec, err := NewRecognition(loadWeights(t, "face_recognition_model"))
	if err != nil {
		t.Fatal(err)
	}
	img := imgtensor.FromImage(reftest.NPMSamples(t).Decode(t, "sample1.jpg"))
	// Crops read in place and copied out (Describe): the same descriptors.
	var faces []Crop
	for i := range maxBatch + 3 {
		faces = append(faces, Crop{Img: img, X: 700 + 37*i, Y: 250 + 11*i, W: 150 + 23*i, H: 170 + 13*(i%4)})
	}
	want := make([][128]float32, len(faces))
	for i, f := range faces {
		want[i] = rec.Describe(imgtensor.Crop(f.Img, f.X, f.Y, f.W, f.H))
	}
	for _, n := range []int{1, 2, 3, 5, len(faces)} {
		got := make([][128]float32, n)
		rec.DescribeBatch(faces[:n], got)
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("batch of %d, face %d: descriptor %.2g from Describe's", n, i, reftest.L2(got[i][:], want[i][:]))
			}
		}
	}
}

// TestFaceInputMatchesCopyThenNormalize checks that reading a crop in place, of a float or an
// 8-bit image, and normalising it in the same pass gives exactly the copied crop's SquareInput
// followed by normalizeMeanRGB (with recognitionMean centred; with tinyMean not).
func TestFaceInputMatchesCopyThenNormalize(t *testing.T) {
	img := nn.NewTensor(40, 50, 3)
	img8 := &RGB8{W: 50, H: 40, Pix: make([]uint8, 40*50*3)}
	for i := range img.Data {
		img8.Pix[i] = uint8((i * 53) % 256)
		img.Data[i] = float32(img8.Pix[i])
	}
	for _, r := range [][4]int{{0, 0, 50, 40}, {3, 5, 20, 31}, {10, 2, 33, 12}, {7, 7, 25, 25}, {49, 39, 1, 1}, {0, 0, 20, 20}} {
		for _, size := range []int{20, 25, 112, 150} {
			want := SquareInput(imgtensor.Crop(img, r[0], r[1], r[2], r[3]), size, true)
			normalizeMeanRGB(want, recognitionMean)
			for _, c := range []Crop{{Img: img, X: r[0], Y: r[1], W: r[2], H: r[3]}, {Img8: img8, X: r[0], Y: r[1], W: r[2], H: r[3]}} {
				got := nn.NewTensor(size, size, 3)
				faceInputTo(got, c)
				for i := range want.Data {
					if got.Data[i] != want.Data[i] {
						t.Fatalf("crop %v (8-bit %v) to %d: value %d = %v, want %v", r, c.Img8 != nil, size, i, got.Data[i], want.Data[i])
					}
				}
			}
			// TinyFaceDetector's input: not centred, its own mean.
			want = SquareInput(imgtensor.Crop(img, r[0], r[1], r[2], r[3]), size, false)
			normalizeMeanRGB(want, tinyMean)
			for _, c := range []Crop{{Img: img, X: r[0], Y: r[1], W: r[2], H: r[3]}, {Img8: img8, X: r[0], Y: r[1], W: r[2], H: r[3]}} {
				got := nn.NewTensor(size, size, 3)
				squareInput(got, c, false, normTiny)
				for i := range want.Data {
					if got.Data[i] != want.Data[i] {
						t.Fatalf("tiny: crop %v (8-bit %v) to %d: value %d = %v, want %v", r, c.Img8 != nil, size, i, got.Data[i], want.Data[i])
					}
				}
			}
		}
	}
}
