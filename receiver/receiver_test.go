package receiver

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facecluster/facecluster/store"
)

func pngBytes(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	img.Set(w-1, h-1, color.RGBA{G: uint8(w), A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngHeaderClaiming is a PNG signature and IHDR claiming w×h pixels, with no pixel data: a
// decompression bomb must be refused from the header alone.
func pngHeaderClaiming(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

var drivers = []string{store.DriverSQLite, store.DriverMySQL}

// forEachDriver runs one test body as a subtest per SQL driver, so every integration test
// checks SQLite and real MySQL alike without duplicating its body.
func forEachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	t.Helper()
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) { test(t, driver) })
	}
}

func TestCompatEndpointsAcceptPathsOnceAndPublishAfterCommit(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			h := newHarness(t, driver)
			a := h.file("cam1/a.jpg")
			h.file("cam1/b.jpg")
			var one submittedJSON
			r := h.postJSON("/image/post", map[string]string{"path": a})
			if r.status != http.StatusAccepted {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			r.json(t, &one)
			if !one.Created || one.Status != "pending" || one.Source != a {
				t.Fatalf("answer %+v", one)
			}
			// The published id is already in the database when the consumer sees it.
			h.waitPublished(one.ID)
			if im, err := h.st.GetImage(context.Background(), one.ID); err != nil || im.Source != a {
				t.Fatalf("published image %d: %v", one.ID, err)
			}
			// Relative to the root, and with redundant separators: the same image.
			var again submittedJSON
			h.postJSON("/image/post", map[string]string{"path": "cam1//a.jpg"}).json(t, &again)
			if again.ID != one.ID || again.Created {
				t.Fatalf("resubmission %+v, want id %d not created", again, one.ID)
			}
			var bulk struct{ Images []submittedJSON }
			r = h.postJSON("/images/post", map[string]any{"paths": []map[string]string{{"path": a}, {"path": "cam1/b.jpg"}, {"path": "cam1/b.jpg"}}})
			if r.status != http.StatusAccepted {
				t.Fatalf("bulk status %d: %s", r.status, r.body)
			}
			r.json(t, &bulk)
			if len(bulk.Images) != 3 || bulk.Images[0].ID != one.ID || bulk.Images[0].Created || !bulk.Images[1].Created || bulk.Images[2].ID != bulk.Images[1].ID || bulk.Images[2].Created {
				t.Fatalf("bulk answer %+v", bulk.Images)
			}
			got := h.waitPublished(one.ID, bulk.Images[1].ID)
			time.Sleep(100 * time.Millisecond)
			if n := len(h.waitPublished()); n != 2 || len(got) != 2 {
				t.Fatalf("published %d ids, want 2 (only new images)", n)
			}
			if n := h.imageCount(); n != 2 {
				t.Fatalf("%d images, want 2", n)
			}
		})
	}
}

func TestConcurrentDuplicatePostsCreateOneImage(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			h := newHarness(t, driver)
			p := h.file("same.jpg")
			var wg sync.WaitGroup
			var mu sync.Mutex
			ids := map[int64]int{}
			created := 0
			for range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var s submittedJSON
					r := h.postJSON("/image/post", map[string]string{"path": p})
					if r.status != http.StatusAccepted {
						t.Errorf("status %d: %s", r.status, r.body)
						return
					}
					r.json(t, &s)
					mu.Lock()
					ids[s.ID]++
					if s.Created {
						created++
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			if len(ids) != 1 || created != 1 || h.imageCount() != 1 {
				t.Fatalf("ids %v, created %d times, %d rows; want one image created once", ids, created, h.imageCount())
			}
		})
	}
}

func TestBadInputIsRefusedClearlyAndWritesNothing(t *testing.T) {
	forEachDriver(t, testBadInputIsRefusedClearlyAndWritesNothing)
}

func testBadInputIsRefusedClearlyAndWritesNothing(t *testing.T, driver string) {
	h := newHarness(t, driver, func(o *Options) { o.MaxBulk = 3; o.MaxJSONBytes = 4096 })
	good := h.file("ok.jpg")
	outside := filepath.Join(t.TempDir(), "outside.jpg")
	os.WriteFile(outside, pngBytes(t, 4, 4), 0o644)
	if err := os.Symlink(outside, filepath.Join(h.root, "escape.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(h.root, "ok.jpg"), filepath.Join(h.root, "inside-link.jpg")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(h.root, "adir"), 0o755)
	os.WriteFile(filepath.Join(h.root, "text.jpg"), []byte("this is not an image"), 0o644)
	os.WriteFile(filepath.Join(h.root, "bomb.png"), pngHeaderClaiming(100000, 100000), 0o644)
	os.WriteFile(filepath.Join(h.root, "cut.png"), pngBytes(t, 8, 8)[:20], 0o644)
	json, form := "application/json", "application/x-www-form-urlencoded"
	cases := []struct {
		name, path, ctype, body string
		want                    int
		wantMsg                 string
	}{
		{"malformed JSON", "/image/post", json, `{"path": `, 400, "malformed JSON"},
		{"empty body", "/image/post", json, ``, 400, "empty request body"},
		{"two JSON values", "/image/post", json, `{"path":"ok.jpg"} {}`, 400, "more than one value"},
		{"wrong content type", "/api/v1/images", "text/plain", `{"images":[{"path":"ok.jpg"}]}`, 415, "application/json"},
		// curl -d sends application/x-www-form-urlencoded: taken when the body is a JSON object.
		{"a form, not JSON", "/api/v1/images", form, `images=ok.jpg`, 415, "not a JSON object"},
		{"a JSON array with a form type", "/api/v1/images", form, `[{"path":"ok.jpg"}]`, 415, "curl --json"},
		{"unknown field with a form type", "/api/v1/images", form, `{"images":[{"pth":"ok.jpg"}]}`, 400, "unknown field"},
		{"body over the limit with a form type", "/api/v1/images", form, `{"images":[{"path":"` + strings.Repeat("x", 5000) + `"}]}`, 413, "larger than 4096 bytes"},
		{"empty path", "/image/post", json, `{"path":""}`, 422, "empty path"},
		{"dot-dot", "/image/post", json, `{"path":"../outside.jpg"}`, 422, `".." is not allowed`},
		{"dot-dot inside", "/image/post", json, `{"path":"adir/../ok.jpg"}`, 422, `".." is not allowed`},
		{"absolute outside the root", "/image/post", json, `{"path":"` + outside + `"}`, 422, "outside the image root"},
		{"symlink out of the root", "/image/post", json, `{"path":"escape.jpg"}`, 422, "resolves outside the image root"},
		{"missing file", "/image/post", json, `{"path":"nope.jpg"}`, 422, "does not exist"},
		{"directory", "/image/post", json, `{"path":"adir"}`, 422, "not a regular file"},
		{"not an image", "/image/post", json, `{"path":"text.jpg"}`, 422, "unsupported image format"},
		{"over the pixel limit", "/image/post", json, `{"path":"bomb.png"}`, 422, "100000×100000 is 10000.0 MP, over the limit of 40.0 MP"},
		{"broken header", "/image/post", json, `{"path":"cut.png"}`, 422, "corrupt image"},
		{"one broken path in the v1 API", "/api/v1/images", json, `{"images":[{"path":"cut.png"}]}`, 422, "images[0].path: " + filepath.Join(h.root, "cut.png") + ": corrupt image"},
		{"one broken path in bulk", "/images/post", json, `{"paths":[{"path":"bomb.png"}]}`, 422, "over the limit"},
		{"bulk with one bad path", "/images/post", json, `{"paths":[{"path":"ok.jpg"},{"path":"nope.jpg"}]}`, 422, "paths[1].path"},
		{"bulk without paths", "/images/post", json, `{"paths":[]}`, 400, "at least one image"},
		{"bulk over the limit", "/api/v1/images", json, `{"images":[{"path":"ok.jpg"},{"path":"ok.jpg"},{"path":"ok.jpg"},{"path":"ok.jpg"}]}`, 413, "more than the limit of 3"},
		{"body over the limit", "/api/v1/images", json, `{"images":[{"path":"` + strings.Repeat("x", 5000) + `"}]}`, 413, "larger than 4096 bytes"},
		{"unknown field", "/api/v1/images", json, `{"images":[{"pth":"ok.jpg"}]}`, 400, "unknown field"},
		{"path and url", "/api/v1/images", json, `{"images":[{"path":"ok.jpg","url":"file:///x"}]}`, 400, "either path or url"},
		{"foreign URL", "/api/v1/images", json, `{"images":[{"url":"s3://elsewhere/x.jpg"}]}`, 422, "not in this blob storage"},
		{"missing blob", "/api/v1/images", json, `{"images":[{"url":"` + h.blobs.URL("uploads/none.jpg") + `"}]}`, 422, "does not exist in the blob storage"},
		{"camera too long", "/api/v1/images", json, `{"images":[{"path":"ok.jpg","camera":"` + strings.Repeat("c", 300) + `"}]}`, 400, "camera name longer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", c.path, c.ctype, []byte(c.body))
			if r.status != c.want {
				t.Fatalf("status %d, want %d: %s", r.status, c.want, r.body)
			}
			if msg := r.errorMessage(t); !strings.Contains(msg, c.wantMsg) {
				t.Fatalf("message %q does not say %q", msg, c.wantMsg)
			}
			if n := h.imageCount(); n != 0 {
				t.Fatalf("%d images written", n)
			}
		})
	}
	// The compatible endpoint takes JSON whatever the Content-Type (curl -d sends a form type),
	// and so do the /api/v1 ones when the body is a JSON object: the bytes `curl -d '…'` sends.
	if r := h.do("POST", "/image/post", form, []byte(`{"path":"ok.jpg"}`)); r.status != 202 {
		t.Fatalf("compat post with a form content type: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/api/v1/images", form, []byte(`{"images":[{"path":"ok.jpg","camera":"lobby"}]}`)); r.status != 202 {
		t.Fatalf("v1 post with curl -d's form content type: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/api/v1/people", form+"; charset=utf-8", []byte(` {"name":"Ada"}`+"\n")); r.status != 201 {
		t.Fatalf("create a person with curl -d's form content type: %d %s", r.status, r.body)
	}
	// A symlink that stays inside the root is fine, and so is the plain path.
	for _, p := range []string{"inside-link.jpg", good} {
		if r := h.postJSON("/image/post", map[string]string{"path": p}); r.status != 202 {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
}

// TestHeaderCheckOfBulkRequests: bulk requests larger than HeaderCheckMax are accepted without
// reading headers (their bad images fail in processing); up to it, every bad image is named.
func TestHeaderCheckOfBulkRequests(t *testing.T) {
	for _, max := range []int{0, 10} {
		h := newHarness(t, store.DriverSQLite, func(o *Options) { o.HeaderCheckMax = max })
		h.file("ok.jpg")
		os.WriteFile(filepath.Join(h.root, "text.jpg"), []byte("this is not an image"), 0o644)
		os.WriteFile(filepath.Join(h.root, "bomb.png"), pngHeaderClaiming(100000, 100000), 0o644)
		r := h.postJSON("/images/post", map[string]any{"paths": []map[string]string{{"path": "ok.jpg"}, {"path": "text.jpg"}, {"path": "bomb.png"}}})
		if max == 0 { // the default: only single submissions
			if r.status != 202 {
				t.Fatalf("default: %d %s", r.status, r.body)
			}
			continue
		}
		if r.status != 422 {
			t.Fatalf("HeaderCheckMax %d: %d %s", max, r.status, r.body)
		}
		msg := r.errorMessage(t)
		for _, want := range []string{"2 images cannot be processed", "paths[1].path", "paths[2].path", "unsupported image format", "over the limit"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q does not say %q", msg, want)
			}
		}
		if n := h.imageCount(); n != 0 {
			t.Fatalf("%d images written", n)
		}
	}
}

// TestConcurrentRetriesOfAnUploadCreateOneImage: a client whose upload timed out retries it
// many times at once with its Idempotency-Key (each retry may carry different bytes): one image
// is created, every answer names it.
func TestConcurrentRetriesOfAnUploadCreateOneImage(t *testing.T) {
	forEachDriver(t, testConcurrentRetriesOfAnUpload)
}

func testConcurrentRetriesOfAnUpload(t *testing.T, driver string) {
	h := newHarness(t, driver)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[int64]int{}
	created := 0
	for i := range 16 {
		ct, body := multipartBody(t, []part{{"file", "door.png", pngBytes(t, 8+i, 8)}}, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.do("POST", "/api/v1/images/upload", ct, body, "Idempotency-Key", "upload-7")
			if r.status != http.StatusAccepted {
				t.Errorf("status %d: %s", r.status, r.body)
				return
			}
			var up struct{ Images []submittedJSON }
			r.json(t, &up)
			mu.Lock()
			defer mu.Unlock()
			for _, s := range up.Images {
				ids[s.ID]++
				if s.Created {
					created++
				}
			}
		}()
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 || h.imageCount() != 1 {
		t.Fatalf("ids %v, created %d times, %d rows; want one image created once", ids, created, h.imageCount())
	}
}

func TestUploadsAndBlobURLs(t *testing.T) { forEachDriver(t, testUploadsAndBlobURLs) }

func testUploadsAndBlobURLs(t *testing.T, driver string) {
	h := newHarness(t, driver, func(o *Options) { o.MaxPixels = 1_000_000 })
	img := pngBytes(t, 16, 12)
	ct, body := multipartBody(t, []part{{"file", "door.png", img}}, map[string]string{"camera": "door"})
	r := h.do("POST", "/api/v1/images/upload", ct, body, "Idempotency-Key", "req-1")
	if r.status != 202 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var up struct{ Images []submittedJSON }
	r.json(t, &up)
	if len(up.Images) != 1 || !up.Images[0].Created || up.Images[0].Source != "door.png" {
		t.Fatalf("upload answer %+v", up)
	}
	id := up.Images[0].ID
	h.waitPublished(id)
	im, err := h.st.GetImage(context.Background(), id)
	if err != nil || im.SourceKind != store.SourceUpload || im.Camera != "door" || im.Width != 16 || im.Height != 12 || !strings.HasPrefix(im.ContentHash, "sha256:") {
		t.Fatalf("stored upload %+v %v", im, err)
	}
	if data, err := h.blobs.ReadAll(context.Background(), im.Source, 0); err != nil || !bytes.Equal(data, img) {
		t.Fatalf("blob of the upload: %v", err)
	}
	// A retried request with the same key returns the same image, whatever it carries.
	ct2, body2 := multipartBody(t, []part{{"file", "other.png", pngBytes(t, 9, 9)}}, nil)
	var again struct{ Images []submittedJSON }
	h.do("POST", "/api/v1/images/upload", ct2, body2, "Idempotency-Key", "req-1").json(t, &again)
	if again.Images[0].ID != id || again.Images[0].Created {
		t.Fatalf("idempotent retry %+v", again)
	}
	// Without a key, the same bytes are the same image.
	var first, same struct{ Images []submittedJSON }
	ct3, body3 := multipartBody(t, []part{{"file", "copy.png", pngBytes(t, 7, 7)}}, nil)
	h.do("POST", "/api/v1/images/upload", ct3, body3).json(t, &first)
	ct3, body3 = multipartBody(t, []part{{"file", "copy-again.png", pngBytes(t, 7, 7)}}, nil)
	h.do("POST", "/api/v1/images/upload", ct3, body3).json(t, &same)
	if same.Images[0].ID != first.Images[0].ID || same.Images[0].Created {
		t.Fatalf("same bytes gave image %+v, want %+v", same.Images[0], first.Images[0])
	}
	// The blob's URL can be submitted as an image URL.
	var byURL struct{ Images []submittedJSON }
	r = h.postJSON("/api/v1/images", map[string]any{"images": []map[string]string{{"url": h.blobs.URL(im.Source), "camera": "door"}}})
	if r.status != 202 {
		t.Fatalf("url submit: %d %s", r.status, r.body)
	}
	r.json(t, &byURL)
	if !byURL.Images[0].Created {
		t.Fatal("URL submission not created")
	}
	before := h.imageCount()
	for _, c := range []struct {
		name  string
		parts []part
		ctype string
		want  int
		msg   string
	}{
		{"not an image", []part{{"file", "notes.txt", []byte("hello")}}, "", 415, "not a JPEG, PNG"},
		{"empty file", []part{{"file", "empty.jpg", nil}}, "", 400, "is empty"},
		{"decompression bomb", []part{{"file", "bomb.png", pngHeaderClaiming(100000, 100000)}}, "", 413, "more than the limit"},
		{"one bad file among good ones", []part{{"file", "a.png", pngBytes(t, 5, 5)}, {"file", "b.txt", []byte("x")}}, "", 415, "b.txt"},
		{"no file field", []part{{"image", "a.png", img}}, "", 400, `field named "file"`},
		{"JSON instead of multipart", nil, "application/json", 415, "multipart/form-data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct, body := multipartBody(t, c.parts, nil)
			if c.ctype != "" {
				ct, body = c.ctype, []byte(`{}`)
			}
			r := h.do("POST", "/api/v1/images/upload", ct, body)
			if r.status != c.want || !strings.Contains(r.errorMessage(t), c.msg) {
				t.Fatalf("status %d (want %d): %s", r.status, c.want, r.body)
			}
			if n := h.imageCount(); n != before {
				t.Fatalf("images %d → %d", before, n)
			}
		})
	}
}

func TestImagesListGetAndRetry(t *testing.T) { forEachDriver(t, testImagesListGetAndRetry) }

func testImagesListGetAndRetry(t *testing.T, driver string) {
	h := newHarness(t, driver)
	ctx := context.Background()
	var paths []map[string]string
	for i := range 7 {
		paths = append(paths, map[string]string{"path": h.file(fmt.Sprintf("l/%d.jpg", i))})
	}
	var sub struct{ Images []submittedJSON }
	h.postJSON("/images/post", map[string]any{"paths": paths}).json(t, &sub)
	ann, _ := h.st.CreatePerson(ctx, "Ann")
	id := sub.Images[2].ID
	h.st.ClaimImage(ctx, id, "w", time.Minute)
	if _, err := h.st.RecordOutcome(ctx, id, "w", store.Outcome{Faces: []store.Face{
		{Box: store.Box{X: 1, Y: 2, W: 30, H: 40}, Score: 0.97, PersonID: ann.ID, Distance: 0.31},
		{Box: store.Box{X: 50, Y: 2, W: 30, H: 40}, Score: 0.88, Distance: 0.72},
	}}); err != nil {
		t.Fatal(err)
	}
	var im imageJSON
	r := h.do("GET", fmt.Sprintf("/api/v1/images/%d", id), "", nil)
	r.json(t, &im)
	if r.status != 200 || im.Status != "processed" || len(im.Faces) != 2 || im.Faces[0].Person == nil || im.Faces[0].Person.Name != "Ann" ||
		im.Faces[0].Box.Width != 30 || *im.Faces[0].Distance != 0.31 || im.Faces[1].Known || im.Faces[1].Person != nil || im.ProcessedAt == nil {
		t.Fatalf("image %d: %s", r.status, r.body)
	}
	for path, want := range map[string]int{"/api/v1/images/999": 404, "/api/v1/images/abc": 400, "/api/v1/images/-1": 400} {
		if r := h.do("GET", path, "", nil); r.status != want {
			t.Fatalf("%s: %d, want %d", path, r.status, want)
		}
	}
	// Pages of 3 walk all 7 images newest first.
	var seen []int64
	cursor := ""
	for {
		var page struct {
			Images     []imageJSON
			NextCursor string `json:"next_cursor"`
		}
		r := h.do("GET", "/api/v1/images?limit=3&cursor="+cursor, "", nil)
		r.json(t, &page)
		for _, im := range page.Images {
			seen = append(seen, im.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	// One bulk request shares a creation time: pages are ordered by id then, each image once.
	if len(seen) != 7 || !slices.IsSortedFunc(seen, func(a, b int64) int { return cmp.Compare(b, a) }) {
		t.Fatalf("pages %v", seen)
	}
	for _, s := range sub.Images {
		if !slices.Contains(seen, s.ID) {
			t.Fatalf("pages %v miss image %d", seen, s.ID)
		}
	}
	var filtered struct{ Images []imageJSON }
	h.do("GET", fmt.Sprintf("/api/v1/images?person=%d&status=processed,unidentified", ann.ID), "", nil).json(t, &filtered)
	if len(filtered.Images) != 1 || filtered.Images[0].ID != id {
		t.Fatalf("filtered %+v", filtered.Images)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	h.do("GET", "/api/v1/images?from="+future, "", nil).json(t, &filtered)
	if len(filtered.Images) != 0 {
		t.Fatalf("from the future: %d images", len(filtered.Images))
	}
	for _, q := range []string{"status=done", "limit=0", "limit=5000", "person=x", "from=yesterday", "cursor=%21%21"} {
		if r := h.do("GET", "/api/v1/images?"+q, "", nil); r.status != 400 {
			t.Fatalf("?%s: %d %s", q, r.status, r.body)
		}
	}
	// Retry: the processed image goes back to pending and is published again.
	r = h.do("POST", fmt.Sprintf("/api/v1/images/%d/retry", id), "", nil)
	r.json(t, &im)
	if r.status != 202 || im.Status != "pending" || im.Attempts != 0 {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	h.st.ClaimImage(ctx, sub.Images[0].ID, "w", time.Minute)
	if r := h.do("POST", fmt.Sprintf("/api/v1/images/%d/retry", sub.Images[0].ID), "", nil); r.status != 409 {
		t.Fatalf("retry of an image being processed: %d", r.status)
	}
	h.st.RecordFailure(ctx, sub.Images[0].ID, "w", "corrupt", true, 0)
	var bulk struct {
		Retried int
		IDs     []int64
	}
	r = h.postJSON("/api/v1/images/retry", map[string]any{"status": []string{"failed"}})
	r.json(t, &bulk)
	if r.status != 202 || bulk.Retried != 1 {
		t.Fatalf("bulk retry: %d %s", r.status, r.body)
	}
	if r := h.postJSON("/api/v1/images/retry", map[string]any{"status": []string{"processing"}}); r.status != 400 {
		t.Fatalf("retry processing: %d", r.status)
	}
	var stats struct {
		Images map[string]int64
		Total  int64
	}
	h.do("GET", "/api/v1/stats", "", nil).json(t, &stats)
	if stats.Total != 7 || stats.Images["pending"] != 7 {
		t.Fatalf("stats %+v", stats)
	}
}

func TestPeopleAndExamples(t *testing.T) { forEachDriver(t, testPeopleAndExamples) }

func testPeopleAndExamples(t *testing.T, driver string) {
	h := newHarness(t, driver)
	ctx := context.Background()
	var p personJSON
	r := h.postJSON("/api/v1/people", map[string]string{"name": "Zoe"})
	r.json(t, &p)
	if r.status != 201 || p.Name != "Zoe" || r.header.Get("Location") != fmt.Sprintf("/api/v1/people/%d", p.ID) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		body string
		want int
	}{{`{"name":"Zoe"}`, 409}, {`{"name":""}`, 400}, {`{"name":"a\u0007b"}`, 400}, {`{"nom":"x"}`, 400}, {`[`, 400}} {
		if r := h.do("POST", "/api/v1/people", "application/json", []byte(c.body)); r.status != c.want {
			t.Fatalf("create %s: %d, want %d", c.body, r.status, c.want)
		}
	}
	r = h.do("PATCH", fmt.Sprintf("/api/v1/people/%d", p.ID), "application/json", []byte(`{"name":"Zoë"}`))
	r.json(t, &p)
	if r.status != 200 || p.Name != "Zoë" {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}
	h.postJSON("/api/v1/people", map[string]string{"name": "Yan"})
	if r := h.do("PATCH", fmt.Sprintf("/api/v1/people/%d", p.ID), "application/json", []byte(`{"name":"Yan"}`)); r.status != 409 {
		t.Fatalf("rename onto Yan: %d", r.status)
	}
	ex, err := h.st.AddExample(ctx, store.NewExample{PersonID: p.ID, Descriptor: make([]float32, store.DescriptorLen), Model: "m", Source: "/k/zoe.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ People []personJSON }
	h.do("GET", "/api/v1/people", "", nil).json(t, &list)
	if len(list.People) != 2 || list.People[1].Name != "Zoë" || list.People[1].Examples != 1 {
		t.Fatalf("people %+v", list.People)
	}
	var exs struct{ Examples []exampleJSON }
	h.do("GET", fmt.Sprintf("/api/v1/people/%d/examples", p.ID), "", nil).json(t, &exs)
	if len(exs.Examples) != 1 || exs.Examples[0].ID != ex.ID || exs.Examples[0].Source != "/k/zoe.jpg" {
		t.Fatalf("examples %+v", exs)
	}
	if r := h.do("DELETE", fmt.Sprintf("/api/v1/people/%d/examples/%d", list.People[0].ID, ex.ID), "", nil); r.status != 404 {
		t.Fatalf("removing another person's example: %d", r.status)
	}
	if r := h.do("DELETE", fmt.Sprintf("/api/v1/people/%d/examples/%d", p.ID, ex.ID), "", nil); r.status != 204 {
		t.Fatalf("remove example: %d %s", r.status, r.body)
	}
	// Enrolment, recognize and verify need a recognizer; without one they say so.
	for _, path := range []string{fmt.Sprintf("/api/v1/people/%d/examples", p.ID), "/api/v1/recognize", "/api/v1/verify"} {
		r := h.postJSON(path, map[string]string{"path": "x.jpg"})
		if r.status != 503 || !strings.Contains(r.errorMessage(t), "recognizer") {
			t.Fatalf("%s without a recognizer: %d %s", path, r.status, r.body)
		}
	}
	if r := h.do("DELETE", fmt.Sprintf("/api/v1/people/%d", p.ID), "", nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	for _, c := range []struct{ method, path string }{{"GET", "/api/v1/people/%d"}, {"DELETE", "/api/v1/people/%d"}, {"GET", "/api/v1/people/%d/examples"}} {
		if r := h.do(c.method, fmt.Sprintf(c.path, p.ID), "", nil); r.status != 404 {
			t.Fatalf("%s %s after delete: %d", c.method, c.path, r.status)
		}
	}
}

func TestAccessControl(t *testing.T) {
	h := newHarness(t, store.DriverSQLite, withAuth("tok-1"))
	p := h.file("a.jpg")
	body := []byte(`{"path":"` + p + `"}`)
	if r := h.do("POST", "/image/post", "application/json", body); r.status != 401 {
		t.Fatalf("no token: %d", r.status)
	}
	if r := h.do("GET", "/api/v1/people", "", nil, "Authorization", "Bearer wrong"); r.status != 401 {
		t.Fatalf("wrong token: %d", r.status)
	}
	if h.imageCount() != 0 {
		t.Fatal("unauthenticated request wrote an image")
	}
	if r := h.do("POST", "/image/post", "application/json", body, "Authorization", "Bearer tok-1"); r.status != 202 {
		t.Fatalf("good token: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/api/v1/openapi.yaml", "", nil); r.status != 200 || !bytes.Contains(r.body, []byte("openapi: 3")) {
		t.Fatalf("openapi document: %d", r.status)
	}
}

func TestPublishFailureStillAcceptsAndLeavesImagePending(t *testing.T) {
	forEachDriver(t, testPublishFailureStillAcceptsAndLeavesImagePending)
}

func testPublishFailureStillAcceptsAndLeavesImagePending(t *testing.T, driver string) {
	h := newHarness(t, driver, func(o *Options) {
		o.Publisher = deadNSQD(t)
	})
	p := h.file("a.jpg")
	var s submittedJSON
	r := h.postJSON("/image/post", map[string]string{"path": p})
	r.json(t, &s)
	if r.status != 202 || !s.Created {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if im, err := h.st.GetImage(context.Background(), s.ID); err != nil || im.Status != store.StatusPending {
		t.Fatalf("image after failed publish: %+v %v", im, err)
	}
}
