package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
)

// TestServeAllFromPostToProcessed is the product on one machine, as `make run` starts it: the
// original's POST /image/post of a demo photo ends processed with the right person, visible
// through the API, on SQLite and on MySQL.
func TestServeAllFromPostToProcessed(t *testing.T) {
	for _, driver := range []string{"sqlite", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			root := t.TempDir()
			copyDemo(t, root, "sample1.jpg")
			args := []string{"--image-root", root, "--known-people", knownFolder(t)}
			if driver == "mysql" {
				args = append(args, "--db-driver", "mysql", "--db-dsn", testutil.MySQLDSN(t))
			}
			url, _ := serve(t, args...)

			start := time.Now()
			code, sub := postJSON(t, url+"/image/post", map[string]string{"path": "sample1.jpg"})
			if code != http.StatusAccepted {
				t.Fatalf("POST /image/post = %d %v, want 202", code, sub)
			}
			id := int64(sub["id"].(float64))
			var img map[string]any
			for {
				img = getJSON(t, fmt.Sprintf("%s/api/v1/images/%d", url, id))
				if st := img["status"]; st != "pending" && st != "processing" {
					break
				}
				if time.Since(start) > 60*time.Second {
					t.Fatalf("image still %v after 60s", img["status"])
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("posted to %s in %s", img["status"], time.Since(start).Round(time.Millisecond))
			if img["status"] != "processed" {
				t.Fatalf("image ended %v (%v), want processed", img["status"], img["reason"])
			}
			faces, _ := img["faces"].([]any)
			var known []string
			for _, f := range faces {
				fm := f.(map[string]any)
				if fm["known"] == true {
					known = append(known, fmt.Sprint(fm["person"].(map[string]any)["name"]))
				}
			}
			if len(faces) != 3 || len(known) != 1 || known[0] != "carol" {
				t.Fatalf("faces %d, known %v; want 3 faces and carol", len(faces), known)
			}

			// Bad input gets a clear 4xx and writes nothing.
			code, body := postJSON(t, url+"/image/post", map[string]string{"path": "../etc/passwd"})
			if code < 400 || code >= 500 || !strings.Contains(fmt.Sprint(body), "..") {
				t.Fatalf("POST of an escaping path = %d %v, want a 4xx naming the problem", code, body)
			}

			// The processor counts the message after the outcome is in the database.
			var m string
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if m = metricsText(t, url); strings.Contains(m, `outcome="processed"} 1`) {
					break
				}
			}
			for _, want := range []string{
				`facecluster_processor_messages_total{outcome="processed"} 1`,
				`facecluster_images{status="processed"} 1`,
				`facecluster_breaker_state 0`,
				`facecluster_recognizer_request_duration_seconds_count{code="OK",method="Recognize"} 1`,
				`route="POST /image/post"`,
			} {
				if !strings.Contains(m, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}

// TestServeAllUploadIsProcessedFromBlobStorage: an uploaded photo is kept in blob storage and
// the processor sends its bytes to the recognizer.
func TestServeAllUploadIsProcessedFromBlobStorage(t *testing.T) {
	url, _ := serve(t, "--image-root", t.TempDir())
	photo, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), "sample4.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "entrance.jpg")
	fw.Write(photo)
	mw.Close()
	resp, err := http.Post(url+"/api/v1/images/upload", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Images []struct {
			ID int64 `json:"id"`
		} `json:"images"`
	}
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || len(up.Images) != 1 {
		t.Fatalf("upload = %d %+v, want 202 with one image", resp.StatusCode, up)
	}
	start := time.Now()
	for {
		img := getJSON(t, fmt.Sprintf("%s/api/v1/images/%d", url, up.Images[0].ID))
		if st := img["status"]; st != "pending" && st != "processing" {
			faces, _ := img["faces"].([]any)
			if st != "unidentified" || img["source_kind"] != "upload" || len(faces) != 4 {
				t.Fatalf("uploaded image ended %v (%v) as %v with %d faces, want unidentified upload with 4", st, img["reason"], img["source_kind"], len(faces))
			}
			return
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("uploaded image still %v after 60s", img["status"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
