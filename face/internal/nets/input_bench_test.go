package nets

import (
	"testing"

	"github.com/facecluster/facecluster/internal/nn"
)

// BenchmarkSquareInput: a 1920×1280 photo to SSD's 512×512 input.
func BenchmarkSquareInput(b *testing.B) {
	img := nn.NewTensor(1280, 1920, 3)
	for i := range img.Data {
		img.Data[i] = float32(i % 251)
	}
	b.ReportAllocs()
	for b.Loop() {
		SquareInput(img, 512, false)
	}
}
