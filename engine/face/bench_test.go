package face

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facecluster/facecluster/engine/face/internal/nets"
	"github.com/facecluster/facecluster/engine/face/internal/reftest"
	"github.com/facecluster/facecluster/internal/testutil"
)

// measure runs the benchmark loop and reports, besides wall time, the CPU time per operation
// (on a shared machine the wall time includes waiting for a core).
func measure(b *testing.B, op func()) {
	b.ReportAllocs()
	cpu0 := testutil.CPUTime()
	for b.Loop() {
		op()
	}
	b.ReportMetric(float64(testutil.CPUTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// benchFace returns the tensor of sample1.jpg and its first face.
func benchFace(b *testing.B) (*input, Face) {
	e := testEngine(b)
	img := reftest.NPMSamples(b).Decode(b, "sample1.jpg")
	faces, err := e.Analyze(context.Background(), img, Options{Alignment: AlignFaceAPI})
	if err != nil || len(faces) == 0 {
		b.Fatalf("no face: %v", err)
	}
	in, err := toInput(img)
	if err != nil {
		b.Fatal(err)
	}
	return in, faces[0]
}

// BenchmarkDescriptor: the recognition net on one face crop (crop, pad, resize to 150, net).
func BenchmarkDescriptor(b *testing.B) {
	e := testEngine(b)
	in, f := benchFace(b)
	x, y, w, h := clipToImage(f.CropBox, in.w, in.h)
	crop := in.crop(x, y, w, h)
	measure(b, func() { e.describeOne(crop) })
}

// BenchmarkDescriptorBatch: the recognition net on the crops of all the faces of sample1.jpg
// at once (DescribeBatch, as Analyze runs it); cpu-ms/face is per descriptor.
func BenchmarkDescriptorBatch(b *testing.B) {
	e := testEngine(b)
	img := reftest.NPMSamples(b).Decode(b, "sample1.jpg")
	faces, err := e.Analyze(context.Background(), img, Options{Alignment: AlignFaceAPI})
	if err != nil || len(faces) == 0 {
		b.Fatalf("no face: %v", err)
	}
	in, err := toInput(img)
	if err != nil {
		b.Fatal(err)
	}
	var crops []nets.Crop
	for _, f := range faces {
		crops = append(crops, cropOf(in, f.CropBox))
	}
	out := make([][128]float32, len(crops))
	b.ReportAllocs()
	cpu0 := testutil.CPUTime()
	for b.Loop() {
		e.recognition.DescribeBatch(crops, out)
	}
	b.ReportMetric(float64(testutil.CPUTime()-cpu0)/float64(b.N*len(crops))/1e6, "cpu-ms/face")
	b.ReportMetric(float64(len(crops)), "faces")
}

// BenchmarkAlignment: cutting one face out for the recognition net, per alignment (the net
// itself not included): face-api.js's crop is a view of the photo's pixels; dlib's chip is a
// warp into a new 150×150 tensor; dlib-steady adds six landmark passes and the mirror image.
func BenchmarkAlignment(b *testing.B) {
	e := testEngine(b)
	in, f := benchFace(b)
	ctx := context.Background()
	for _, a := range []Alignment{AlignFaceAPI, AlignDlib, AlignDlibSteady} {
		b.Run(a.String(), func(b *testing.B) {
			measure(b, func() {
				if _, _, err := e.recognitionCrops(ctx, in, &f, a, false); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkLandmarks: the 68-landmark nets on one detection crop.
func BenchmarkLandmarks(b *testing.B) {
	e := testEngine(b)
	in, f := benchFace(b)
	x, y, w, h := clipToImage(f.Box, in.w, in.h)
	crop := in.crop(x, y, w, h)
	b.Run("full", func(b *testing.B) { measure(b, func() { e.landmarks.DetectCrop(crop) }) })
	b.Run("tiny", func(b *testing.B) { measure(b, func() { e.tinyLandmarks.DetectCrop(crop) }) })
}

type benchImage struct {
	name string
	img  image.Image
}

func benchImages(b *testing.B) []benchImage {
	var imgs []benchImage
	if _, err := os.Stat(testutil.DemoDir(b)); err == nil {
		set := reftest.NPMSamples(b)
		for _, n := range set.Names() {
			imgs = append(imgs, benchImage{n, set.Decode(b, n)})
		}
	}
	if shared := sharedFaces(b); shared != nil {
		imgs = append([]benchImage{{"faces.jpg", shared}}, imgs...)
	}
	return imgs
}

// sharedFaces returns faces.jpg of the shared fixtures, or nil when they are absent.
func sharedFaces(b *testing.B) image.Image {
	var img image.Image
	b.Run("shared-fixtures", func(b *testing.B) {
		img = reftest.Shared(b).Decode(b, "faces.jpg")
		b.SkipNow()
	})
	return img
}

// BenchmarkPipeline: Analyze (SSD, landmarks, crop, descriptor for every face) per photo, the
// image already decoded.
func BenchmarkPipeline(b *testing.B) {
	e := testEngine(b)
	ctx := context.Background()
	for _, bi := range benchImages(b) {
		b.Run(strings.TrimSuffix(bi.name, ".jpg"), func(b *testing.B) {
			var faces int
			measure(b, func() {
				f, err := e.Analyze(ctx, bi.img, Options{})
				if err != nil {
					b.Fatal(err)
				}
				faces = len(f)
			})
			b.ReportMetric(float64(faces), "faces")
		})
	}
}

// BenchmarkPipelineReference: BenchmarkPipeline with the reference's steps (one SSD pass,
// face-api.js's crop), the default before the padded detector pass and dlib's alignment: the
// two benchmarks side by side give what those cost per photo.
func BenchmarkPipelineReference(b *testing.B) {
	e := testEngine(b)
	ctx := context.Background()
	for _, bi := range benchImages(b) {
		b.Run(strings.TrimSuffix(bi.name, ".jpg"), func(b *testing.B) {
			measure(b, func() {
				if _, err := e.Analyze(ctx, bi.img, Options{Detector: DetectorSSDRaw, Alignment: AlignFaceAPI}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDetect: detection alone per photo, the reference's single SSD pass (ssd-raw)
// against the default's two (ssd), on a demo photo and a 250×250 portrait (LFW's size; face1.png
// is 150×150), and with 384-pixel tiles on a 1920×1080 photo (28 tiles).
func BenchmarkDetect(b *testing.B) {
	e := testEngine(b)
	ctx := context.Background()
	demo := reftest.NPMSamples(b).Decode(b, "sample1.jpg")
	var portrait, frame image.Image
	b.Run("shared-fixtures", func(b *testing.B) {
		portrait = reftest.Shared(b).Decode(b, "face1.png")
		frame = smallFaceFrame(b, image.Rect(850, 580, 890, 620))
		b.SkipNow()
	})
	cases := []struct {
		name string
		img  image.Image
		opts Options
	}{
		{"sample1/ssd-raw", demo, Options{Detector: DetectorSSDRaw}},
		{"sample1/ssd", demo, Options{}},
		{"face1/ssd-raw", portrait, Options{Detector: DetectorSSDRaw}},
		{"face1/ssd", portrait, Options{}},
		{"1920x1080/ssd", frame, Options{}},
		{"1920x1080/ssd-tile384", frame, Options{TileSize: 384}},
	}
	for _, c := range cases {
		if c.img == nil {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			var faces int
			measure(b, func() {
				d, err := e.Detect(ctx, c.img, c.opts)
				if err != nil {
					b.Fatal(err)
				}
				faces = len(d)
			})
			b.ReportMetric(float64(faces), "faces")
		})
	}
}

// BenchmarkPipelineAlignment: Analyze of sample1.jpg (3 faces) with each alignment: what the
// alignment costs per photo, the net's extra descriptor (dlib-steady's mirror image) included.
func BenchmarkPipelineAlignment(b *testing.B) {
	e := testEngine(b)
	img := reftest.NPMSamples(b).Decode(b, "sample1.jpg")
	for _, a := range []Alignment{AlignFaceAPI, AlignDlib, AlignDlibSteady} {
		b.Run(a.String(), func(b *testing.B) {
			measure(b, func() {
				if _, err := e.Analyze(context.Background(), img, Options{Alignment: a}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkPipelineTwoWorkers: Analyze with Options.Workers = 2 (SSD in two bands of rows,
// faces in parallel): the latency of one photo on two idle cores.
func BenchmarkPipelineTwoWorkers(b *testing.B) {
	e := testEngine(b)
	img := reftest.NPMSamples(b).Decode(b, "sample1.jpg")
	measure(b, func() {
		if _, err := e.Analyze(context.Background(), img, Options{Workers: 2}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkThroughput: photos per second with 1 and 2 workers sharing one engine. The workers
// take the photos from one stream (each iteration adds the seven photos, with no barrier in
// between), so that neither waits for the other: a barrier after every seven photos would
// leave one worker idle for the last one, which alone caps 2 workers at 7/8 of 2× (1.75×).
func BenchmarkThroughput(b *testing.B) {
	e := testEngine(b)
	imgs := benchImages(b)
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			start, cpu0 := time.Now(), testutil.CPUTime()
			var wg sync.WaitGroup
			next := make(chan image.Image, len(imgs))
			for range workers {
				wg.Go(func() {
					for img := range next {
						if _, err := e.Analyze(context.Background(), img, Options{}); err != nil {
							b.Error(err)
						}
					}
				})
			}
			var n int
			for b.Loop() {
				for _, bi := range imgs {
					next <- bi.img
				}
				n += len(imgs)
			}
			close(next)
			wg.Wait()
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "photos/s")
			// The same CPU time per photo with 2 workers as with 1 means the workers do not
			// slow each other down (no locks, no shared buffers): scaling is then up to the
			// cores the machine gives.
			b.ReportMetric(float64(testutil.CPUTime()-cpu0)/float64(n)/1e6, "cpu-ms/photo")
		})
	}
}

// BenchmarkEngineMemory measures, in a fresh process (this test binary re-run with only
// TestEngineMemoryChild), the resident set after loading every net and analysing one photo
// (peak: VmHWM, at the end: VmRSS) — what a recognizer costs.
func BenchmarkEngineMemory(b *testing.B) {
	var out []byte
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEngineMemoryChild$", "-test.v")
		cmd.Env = append(os.Environ(), "FACECLUSTER_MEMORY_CHILD=1")
		var err error
		if out, err = cmd.CombinedOutput(); err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
	}
	for _, metric := range []string{"VmHWM", "VmRSS"} {
		_, rest, ok := strings.Cut(string(out), metric+":")
		if !ok {
			b.Fatalf("child printed no %s:\n%s", metric, out)
		}
		kb, err := strconv.Atoi(strings.Fields(rest)[0])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(kb)/1024, strings.ToLower(metric)+"-MB")
	}
}

// TestEngineMemoryChild is BenchmarkEngineMemory's child process (skipped otherwise).
func TestEngineMemoryChild(t *testing.T) {
	if os.Getenv("FACECLUSTER_MEMORY_CHILD") != "1" {
		t.Skip("run by BenchmarkEngineMemory")
	}
	e, err := Load(LoadOptions{ModelsDir: testutil.ModelsDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	img := reftest.NPMSamples(t).Decode(t, "sample1.jpg")
	if _, err := e.Analyze(context.Background(), img, Options{}); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") || strings.HasPrefix(line, "VmRSS:") {
			fmt.Println(line)
		}
	}
	runtime.KeepAlive(e)
}
