package thumbs

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

func jpegOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 100, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeJPEG(r io.Reader) (image.Image, error) { return jpeg.Decode(r) }

func TestThumbnailIsScaledCachedAndMadeOnce(t *testing.T) {
	c, err := New(t.TempDir(), decodeJPEG)
	if err != nil {
		t.Fatal(err)
	}
	orig := jpegOf(t, 800, 400)
	var opened atomic.Int32
	src := func(context.Context) (io.ReadCloser, error) {
		opened.Add(1)
		return io.NopCloser(bytes.NewReader(orig)), nil
	}
	var wg sync.WaitGroup
	paths := make([]string, 8)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := c.Path(context.Background(), "7", 200, src)
			if err != nil {
				t.Error(err)
			}
			paths[i] = p
		}()
	}
	wg.Wait()
	if n := opened.Load(); n != 1 {
		t.Fatalf("original opened %d times for 8 concurrent requests, want 1", n)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := jpeg.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 200 || cfg.Height != 100 {
		t.Fatalf("thumbnail is %dx%d, want 200x100", cfg.Width, cfg.Height)
	}
	if _, err := c.Path(context.Background(), "7", 200, src); err != nil || opened.Load() != 1 {
		t.Fatalf("cached thumbnail regenerated (opened %d times, err %v)", opened.Load(), err)
	}
}

func TestBrokenOriginalLeavesNoThumbnail(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir, decodeJPEG)
	if err != nil {
		t.Fatal(err)
	}
	src := func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader([]byte("not a picture"))), nil
	}
	if _, err := c.Path(context.Background(), "9", 200, src); err == nil {
		t.Fatal("broken original gave a thumbnail")
	}
	missing := errors.New("gone")
	if _, err := c.Path(context.Background(), "10", 200, func(context.Context) (io.ReadCloser, error) { return nil, missing }); !errors.Is(err, missing) {
		t.Fatalf("err = %v, want the source's error", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("cache dir holds %d files after failures, want 0", len(entries))
	}
}

func TestScaleNeverEnlarges(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 50, 80))
	if got := Scale(img, 200).Bounds(); got.Dx() != 50 || got.Dy() != 80 {
		t.Fatalf("small image scaled to %v", got)
	}
	if got := Scale(image.NewRGBA(image.Rect(0, 0, 300, 900)), 300).Bounds(); got.Dx() != 100 || got.Dy() != 300 {
		t.Fatalf("portrait scaled to %v, want 100x300", got)
	}
}

func TestCropOfFace(t *testing.T) {
	c, err := New(t.TempDir(), decodeJPEG)
	if err != nil {
		t.Fatal(err)
	}
	orig := jpegOf(t, 400, 300)
	src := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(orig)), nil }
	p, err := c.CropPath(context.Background(), "face-3", 96, src, image.Rect(100, 50, 300, 150))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	cfg, err := jpeg.DecodeConfig(f)
	if err != nil || cfg.Width != 96 || cfg.Height != 48 {
		t.Fatalf("face crop %dx%d (%v), want 96x48", cfg.Width, cfg.Height, err)
	}
	if _, err := c.CropPath(context.Background(), "face-4", 96, src, image.Rect(500, 500, 600, 600)); err == nil {
		t.Fatal("crop outside the picture gave a thumbnail")
	}
}
