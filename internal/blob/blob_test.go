package blob

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFileStorageRoundTripAndReferences(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "file://"+dir+"/blobs")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key, sum, err := s.PutContent(ctx, []byte("jpeg bytes"), ".jpg", "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := s.PutContent(ctx, []byte("jpeg bytes"), ".jpg", "image/jpeg")
	if err != nil || again != key || len(sum) != 64 {
		t.Fatalf("second put: %q %q %v", again, sum, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", filepath.FromSlash(key))); err != nil {
		t.Fatalf("object not on disk: %v", err)
	}
	for _, ref := range []string{key, s.URL(key), "/" + key} {
		data, err := s.ReadAll(ctx, ref, 0)
		if err != nil || string(data) != "jpeg bytes" {
			t.Fatalf("read %q: %q %v", ref, data, err)
		}
	}
	if _, err := s.ReadAll(ctx, key, 3); err == nil {
		t.Fatal("size limit not enforced")
	}
	if _, err := s.ReadAll(ctx, "uploads/none.jpg", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing object: %v", err)
	}
	for _, foreign := range []string{"s3://other/uploads/x.jpg", "file:///etc/passwd", "../outside", "file://" + dir + "/blobs/../secret"} {
		if _, err := s.ReadAll(ctx, foreign, 0); !errors.Is(err, ErrForeign) {
			t.Errorf("%q: %v, want ErrForeign", foreign, err)
		}
	}
	if _, err := Open(ctx, "no-scheme"); err == nil {
		t.Fatal("URL without scheme accepted")
	}
}
