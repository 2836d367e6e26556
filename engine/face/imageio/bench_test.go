package imageio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
)

// BenchmarkDecodeDemoPhoto decodes a 1920×1280 JPEG of the npm demo (header check, EXIF, pixels).
func BenchmarkDecodeDemoPhoto(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(testutil.DemoDir(b), "sample1.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, _, err := Decode(bytes.NewReader(data), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToRGB converts the decoded demo photo (YCbCr 4:2:0) to the networks' RGB bytes.
func BenchmarkToRGB(b *testing.B) {
	img, _, err := DecodeFile(filepath.Join(testutil.DemoDir(b), "sample1.jpg"), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		ToRGB(img)
	}
}

// BenchmarkOrient turns the decoded demo photo a quarter (EXIF orientation 6).
func BenchmarkOrient(b *testing.B) {
	img, _, err := DecodeFile(filepath.Join(testutil.DemoDir(b), "sample1.jpg"), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		Orient(img, 6)
	}
}

// reportCPU adds cpu-ms/op: the process's CPU time per operation, which on a shared machine says
// more than the wall time (which includes waiting for a core).
func reportCPU(b *testing.B) func() {
	start := testutil.CPUTime()
	return func() {
		b.ReportMetric(float64((testutil.CPUTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}
