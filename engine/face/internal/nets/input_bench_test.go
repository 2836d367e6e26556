package nets

import (
	"testing"

	"github.com/facecluster/facecluster/engine/internal/nn"
)

// BenchmarkSquareInput: a 1920×1280 photo to SSD's 512×512 input (a new tensor each time, as
// SquareInput; "into" reuses the destination).
func BenchmarkSquareInput(b *testing.B) {
	img := nn.NewTensor(1280, 1920, 3)
	for i := range img.Data {
		img.Data[i] = float32(i % 251)
	}
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			SquareInput(img, 512, false)
		}
	})
	b.Run("into", func(b *testing.B) {
		dst := nn.NewTensor(512, 512, 3)
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			squareInputTo(dst, img, false)
		}
	})
}
