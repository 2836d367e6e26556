// Package thumbs makes and caches the small JPEG previews the UI lists images with.
//
// Previews are generated once per image and size, scaled with golang.org/x/image/draw, and kept
// on disk (written to a temporary file and renamed, so a crash never leaves half a thumbnail);
// concurrent requests for the same missing thumbnail share one decode (x/sync/singleflight),
// because a page of fifty new images would otherwise decode each picture many times.
package thumbs

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/image/draw"
	"golang.org/x/sync/singleflight"
)

// Source opens the original bytes of an image.
type Source func(ctx context.Context) (io.ReadCloser, error)

// Decoder turns original bytes into pixels, EXIF orientation applied (so that face boxes, which
// are in oriented pixels, line up with the preview).
type Decoder func(r io.Reader) (image.Image, error)

// Cache makes and stores thumbnails under Dir.
type Cache struct {
	dir    string
	decode Decoder
	group  singleflight.Group
}

// New returns a cache writing to dir (created if missing).
func New(dir string, decode Decoder) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("thumbnail cache: no directory configured")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("thumbnail cache: %w", err)
	}
	return &Cache{dir: dir, decode: decode}, nil
}

// Path returns the file of the thumbnail of image key at most size pixels on its longer side,
// making it from src when it is not cached yet.
func (c *Cache) Path(ctx context.Context, key string, size int, src Source) (string, error) {
	return c.CropPath(ctx, key, size, src, image.Rectangle{})
}

// CropPath is Path for the part crop of the picture (all of it when crop is empty), e.g. one face.
func (c *Cache) CropPath(ctx context.Context, key string, size int, src Source, crop image.Rectangle) (string, error) {
	path := filepath.Join(c.dir, fmt.Sprintf("%s-%d.jpg", key, size))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	_, err, _ := c.group.Do(path, func() (any, error) {
		if _, err := os.Stat(path); err == nil {
			return nil, nil
		}
		return nil, c.make(ctx, path, size, src, crop)
	})
	if err != nil {
		return "", err
	}
	return path, nil
}

func (c *Cache) make(ctx context.Context, path string, size int, src Source, crop image.Rectangle) error {
	rc, err := src(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	img, err := c.decode(rc)
	if err != nil {
		return err
	}
	if !crop.Empty() {
		crop = crop.Intersect(img.Bounds())
		if crop.Empty() {
			return errors.New("thumbnail: the region lies outside the picture")
		}
		if sub, ok := img.(interface {
			SubImage(image.Rectangle) image.Image
		}); ok {
			img = sub.SubImage(crop)
		}
	}
	small := Scale(img, size)
	tmp, err := os.CreateTemp(c.dir, ".thumb-*")
	if err != nil {
		return fmt.Errorf("thumbnail cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := jpeg.Encode(tmp, small, &jpeg.Options{Quality: 82}); err != nil {
		tmp.Close()
		return fmt.Errorf("encode thumbnail: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("thumbnail cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("thumbnail cache: %w", err)
	}
	return nil
}

// Scale returns img shrunk so that its longer side is at most size pixels (never enlarged).
func Scale(img image.Image, size int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= size && h <= size {
		return img
	}
	if w >= h {
		h = max(1, h*size/w)
		w = size
	} else {
		w = max(1, w*size/h)
		h = size
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	// ApproxBiLinear is several times faster than CatmullRom and good enough at thumbnail size.
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}
