package nets

import (
	"runtime"
	"testing"

	"github.com/facecluster/facecluster/engine/face/internal/reftest"
	"github.com/facecluster/facecluster/internal/testutil"
)

// BenchmarkSSD is SSD MobileNetV1 on one 1920×1280 demo photo: input padding and resize to
// 512×512, the network, decoding and suppression (the goal of issue 2: ≤ 60 ms).
func BenchmarkSSD(b *testing.B) {
	img := loadRGB(b, reftest.NPMSamples(b), "sample1.jpg")
	ssd := testSSD(b)
	defer reportCPU(b)()
	for b.Loop() {
		if len(ssd.Detect(img, 0.5, 100)) == 0 {
			b.Fatal("no faces")
		}
	}
}

// BenchmarkSSDParallel is the same with the backbone split over GOMAXPROCS goroutines
// (DetectParallel): the latency of one image on an otherwise idle machine.
func BenchmarkSSDParallel(b *testing.B) {
	img := loadRGB(b, reftest.NPMSamples(b), "sample1.jpg")
	ssd := testSSD(b)
	workers := runtime.GOMAXPROCS(0)
	defer reportCPU(b)()
	for b.Loop() {
		if len(ssd.DetectParallel(img, 0.5, 100, workers)) == 0 {
			b.Fatal("no faces")
		}
	}
}

// BenchmarkTiny416 is TinyFaceDetector at input size 416 on the same photo.
func BenchmarkTiny416(b *testing.B) {
	img := loadRGB(b, reftest.NPMSamples(b), "sample1.jpg")
	tiny := testTiny(b)
	defer reportCPU(b)()
	for b.Loop() {
		if len(tiny.Detect(img, 416, 0.5)) == 0 {
			b.Fatal("no faces")
		}
	}
}

// reportCPU adds the benchmark's CPU time per operation (cpu-ms/op) to its report. On a busy
// machine wall time includes waiting for a core; CPU time is what the work itself costs. Call as
// defer reportCPU(b)() right before the loop (setup before it is not counted).
func reportCPU(b *testing.B) func() {
	start := int64(testutil.CPUTime())
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(int64(testutil.CPUTime())-start)/1e6/float64(b.N), "cpu-ms/op")
		}
	}
}
