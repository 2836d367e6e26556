package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/spf13/pflag"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/cmd/facecluster/internal/server"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/internal/testutil/browser"
	"github.com/facecluster/facecluster/store"
)

// startProduct runs `facecluster serve --roles=all` in this process exactly as the command
// wires it (embedded nsqd and nsqlookupd, SQLite, recognizer with the real engine, processor,
// reconciler, receiver and web on one listener) and returns the base URL and the store.
func startProduct(t *testing.T, imageRoot string) (string, *store.Store) {
	t.Helper()
	data := t.TempDir()
	envFile := filepath.Join(data, "empty.env") // no settings from the environment of the test run
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg := config.Register(fs, config.GroupDB|config.GroupQueue|config.GroupServe|config.GroupEngine|config.GroupKnown|config.GroupRecognize)
	args := []string{
		"--env-file", envFile,
		"--data-dir", data,
		"--image-root", imageRoot,
		"--models-dir", testutil.ModelsDir(t),
		"--http-addr", testutil.FreeAddr(t),
		"--grpc-addr", testutil.FreeAddr(t),
		"--nsqd-tcp-addr", testutil.FreeAddr(t),
		"--nsqd-http-addr", testutil.FreeAddr(t),
		"--nsqlookupd-tcp-addrs", testutil.FreeAddr(t),
		"--nsqlookupd-http-addrs", testutil.FreeAddr(t),
		"--processor-concurrency", "2",
		"--shutdown-timeout", "10s",
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Load(func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start facecluster: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("facecluster stopped with: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("facecluster did not stop within 30s")
		}
	})
	base := "http://" + srv.HTTPAddr()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("facecluster not ready after 60s (last: %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return base, srv.Store()
}

// TestBrowserOnTheRunningProduct is the whole story in a real browser on the real product:
// upload npm demo photos and a file that is not a picture and see them processed live, create a
// person from a face, see a new photo of that person turn processed with the name without
// reloading, then the person's history, the unknown faces and the status.
func TestBrowserOnTheRunningProduct(t *testing.T) {
	demo := testutil.DemoDir(t)
	root := t.TempDir()
	base, st := startProduct(t, root)
	b := browser.New(t, 1280, 900)

	notAPicture := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notAPicture, []byte("minutes of the meeting"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(demo, "sample1.jpg"), filepath.Join(demo, "sample2.jpg"), notAPicture}
	b.Do("upload two demo photos and a text file",
		chromedp.Navigate(base+"/upload"),
		chromedp.WaitVisible(chromedp.CSS("#dropzone")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), files),
	)
	b.WaitText("#upload-list", "notes.txt", 20*time.Second)
	b.WaitText("#upload-list", "is not a JPEG, PNG, GIF, WebP or BMP image", 20*time.Second)
	// Both photos are processed (3 faces each, nobody enrolled yet) while the page stays open.
	b.WaitCount(`#upload-list li .status.unidentified`, 2, 3*time.Minute)
	b.Screenshot("upload")

	// sample1.jpg's image, by the link the upload list shows for it.
	href := browser.Eval[string](b, `[...document.querySelectorAll("#upload-list a")].find(a => a.textContent === "sample1.jpg").getAttribute("href")`)
	var id int64
	if _, err := fmt.Sscanf(href, "/images/%d", &id); err != nil {
		t.Fatalf("upload list links sample1.jpg to %q", href)
	}
	sample1, err := st.GetImage(context.Background(), id)
	if err != nil || len(sample1.Faces) == 0 {
		t.Fatalf("sample1.jpg (image %d): %v, %d faces", id, err, len(sample1.Faces))
	}
	face := sample1.Faces[0]
	b.Do("open the image", chromedp.Navigate(fmt.Sprintf("%s/images/%d", base, sample1.ID)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#newp-%d", face.ID))))
	b.Screenshot("image-detail")
	b.Do("create a person from the first face",
		chromedp.SendKeys(chromedp.CSS(fmt.Sprintf("#newp-%d", face.ID)), "Carol"),
		chromedp.Submit(chromedp.CSS(fmt.Sprintf("#newp-%d", face.ID))),
	)
	b.WaitText(".flash.ok", "Carol was created from this face", 30*time.Second)

	// A new photo of Carol arrives through the API while the images page is open: its card
	// appears, turns processed and names Carol, with no reload.
	b.Do("open the images page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#images")))
	b.WaitText("#live-state", "Live updates on", 30*time.Second)
	newID := uploadThroughAPI(t, base, "carol-again.jpg", reencoded(t, filepath.Join(demo, "sample1.jpg")))
	card := fmt.Sprintf(`#images [data-image-id="%d"]`, newID)
	b.WaitText(card, "Carol", 2*time.Minute)
	b.WaitText(card, "processed", 15*time.Second)
	b.Screenshot("images-live")

	// Carol's page: one example (the face), and the history with today's sighting.
	carol, err := st.PersonByName(context.Background(), "Carol")
	if err != nil {
		t.Fatal(err)
	}
	b.Do("Carol's page", chromedp.Navigate(fmt.Sprintf("%s/people/%d", base, carol.ID)), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.WaitText("main", "1 example", 15*time.Second)
	b.WaitText("main", "seen in 2 images", 15*time.Second)

	// Enrol by upload: a group photo is refused with what to do; a crop of her face is added.
	b.Do("upload a group photo as an example",
		chromedp.SetUploadFiles(chromedp.CSS("#example-files"), []string{filepath.Join(demo, "sample1.jpg")}),
		chromedp.Submit(chromedp.CSS("#example-files")),
	)
	b.WaitText(".flash.error", "3 faces found: crop the photo to the person's face alone", 30*time.Second)
	crop := cropFace(t, filepath.Join(demo, "sample1.jpg"), face.Box)
	b.Do("upload a crop of her face",
		chromedp.SetUploadFiles(chromedp.CSS("#example-files"), []string{crop}),
		chromedp.Submit(chromedp.CSS("#example-files")),
	)
	b.WaitText(".flash.ok", "1 example added", 30*time.Second)
	b.WaitText("main", "2 examples", 15*time.Second)
	b.WaitText(".timeline", time.Now().UTC().Format("Monday 2 January 2006"), 15*time.Second)
	b.Screenshot("person-history")
	b.Do("unknown faces", chromedp.Navigate(base+"/unknown"), chromedp.WaitVisible(chromedp.CSS("main")))
	b.WaitText("main", "Add to person", 15*time.Second)
	b.Screenshot("unknown")
	b.Do("status", chromedp.Navigate(base+"/status"), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	b.WaitText("main", "Recognizer breaker", 15*time.Second)
	b.Screenshot("status-live")
	// The one failed request a person caused on purpose: the text file upload.
	b.NoPageErrors("400 (Bad Request) " + base + "/upload/file")
}

// reencoded returns the picture at path decoded and encoded again: another file with the same
// faces (the same bytes would be recognised as the same upload).
func reencoded(t *testing.T, path string) []byte {
	t.Helper()
	img, _, err := imageio.DecodeFile(path, imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cropFace writes the face in box of the picture at path, with a margin, to a temporary JPEG.
func cropFace(t *testing.T, path string, box store.Box) string {
	t.Helper()
	img, _, err := imageio.DecodeFile(path, imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := box.W / 3
	r := image.Rect(int(box.X-m), int(box.Y-m), int(box.X+box.W+m), int(box.Y+box.H+m)).Intersect(img.Bounds())
	sub := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
	out := filepath.Join(t.TempDir(), "carol-face.jpg")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := jpeg.Encode(f, sub, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return out
}

// uploadThroughAPI posts one picture to the receiver's upload endpoint, as a camera would.
func uploadThroughAPI(t *testing.T, base, name string, data []byte) int64 {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	mw.Close()
	res, err := http.Post(base+"/api/v1/images/upload", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Images []struct {
			ID int64 `json:"id"`
		} `json:"images"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusAccepted || len(out.Images) != 1 {
		t.Fatalf("upload through the API: %d %v %+v", res.StatusCode, err, out)
	}
	return out.Images[0].ID
}
