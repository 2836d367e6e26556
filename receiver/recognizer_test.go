package receiver

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

// withRealRecognizer runs the real recognizer (real engine and models, gallery from the
// harness's store) on a loopback gRPC port and wires its client into the receiver.
func withRealRecognizer(t *testing.T, eng *face.Engine) harnessOpt {
	return func(o *Options) {
		srv, err := recognizer.New(recognizer.Options{Engine: eng, Store: o.Store, ImageRoot: o.ImageRoot, PollInterval: 100 * time.Millisecond, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		g := grpc.NewServer()
		srv.Register(g)
		ctx, cancel := context.WithCancel(context.Background())
		go srv.Run(ctx)
		go g.Serve(lis)
		t.Cleanup(func() { cancel(); g.Stop() })
		c, err := recognizer.Dial(lis.Addr().String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		o.Recognizer = c.Recognizer()
	}
}

// faceCrops returns JPEG crops (with a margin) of every face of a demo photo, left to right.
func faceCrops(t *testing.T, eng *face.Engine, photo string) [][]byte {
	t.Helper()
	img, _, err := imageio.DecodeFile(filepath.Join(testutil.DemoDir(t), photo), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	faces, err := eng.Analyze(context.Background(), img, face.Options{})
	if err != nil || len(faces) < 2 {
		t.Fatalf("analyze %s: %d faces, %v", photo, len(faces), err)
	}
	sort.Slice(faces, func(i, j int) bool { return faces[i].Box.X < faces[j].Box.X })
	var out [][]byte
	for _, f := range faces {
		b := f.Box
		r := image.Rect(int(b.X-0.25*b.W), int(b.Y-0.25*b.H), int(b.X+1.25*b.W), int(b.Y+1.25*b.H)).Intersect(img.Bounds())
		crop := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
		draw.Draw(crop, crop.Bounds(), img, r.Min, draw.Src)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, crop, &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

var (
	engineOnce sync.Once
	engine     *face.Engine
	engineErr  error
)

// testEngine loads the face engine once for the whole package: every test and driver shares it.
func testEngine(t *testing.T) *face.Engine {
	t.Helper()
	dir := testutil.ModelsDir(t)
	engineOnce.Do(func() { engine, engineErr = face.Load(face.LoadOptions{ModelsDir: dir}) })
	if engineErr != nil {
		t.Fatalf("load face engine: %v", engineErr)
	}
	return engine
}

// TestEnrolRecognizeAndVerifyWithTheRealRecognizer enrols a person from a face crop, then finds
// them among the faces of the whole photo, and verifies pairs of crops.
func TestEnrolRecognizeAndVerifyWithTheRealRecognizer(t *testing.T) {
	eng := testEngine(t)
	forEachDriver(t, func(t *testing.T, driver string) { testEnrolRecognizeAndVerify(t, eng, driver) })
}

func testEnrolRecognizeAndVerify(t *testing.T, eng *face.Engine, driver string) {
	h := newHarness(t, driver, withRealRecognizer(t, eng))
	crops := faceCrops(t, eng, "sample1.jpg")
	left, right := crops[0], crops[len(crops)-1]
	if err := os.WriteFile(filepath.Join(h.root, "right.jpg"), right, 0o644); err != nil {
		t.Fatal(err)
	}
	photo, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), "sample1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(h.root, "group.jpg"), photo, 0o644)

	var p personJSON
	h.postJSON("/api/v1/people", map[string]string{"name": "Rightmost"}).json(t, &p)
	examples := fmt.Sprintf("/api/v1/people/%d/examples", p.ID)

	// Enrol by path, and by upload of a second crop of the same face.
	r := h.postJSON(examples, map[string]any{"path": "right.jpg"})
	if r.status != 201 {
		t.Fatalf("enrol by path: %d %s", r.status, r.body)
	}
	ct, body := multipartBody(t, []part{{"file", "right-upload.jpg", right}}, nil)
	if r := h.do("POST", examples, ct, body); r.status != 201 {
		t.Fatalf("enrol by upload: %d %s", r.status, r.body)
	}
	var exs struct{ Examples []exampleJSON }
	h.do("GET", examples, "", nil).json(t, &exs)
	if len(exs.Examples) != 2 || exs.Examples[0].Source != filepath.Join(h.root, "right.jpg") || exs.Examples[1].Source != "upload:right-upload.jpg" || exs.Examples[0].Model != face.ModelVersion {
		t.Fatalf("examples %+v", exs.Examples)
	}
	// Both originals are kept for a newer model to re-embed: the path, and the uploaded photo
	// in blob storage, byte for byte; neither example is stale.
	if exs.Examples[0].Original != exs.Examples[0].Source || exs.Examples[1].Original == "" || exs.Examples[0].Stale || exs.Examples[1].Stale || exs.Examples[1].NeedsReenrol {
		t.Fatalf("originals and staleness: %+v", exs.Examples)
	}
	if kept, err := h.blobs.ReadAll(context.Background(), exs.Examples[1].Original, 0); err != nil || !bytes.Equal(kept, right) {
		t.Fatalf("the uploaded example photo was not kept as sent (%d bytes, %v)", len(kept), err)
	}
	// A group photo is no enrolment photo; nothing is added.
	r = h.postJSON(examples, map[string]any{"paths": []string{"right.jpg", "group.jpg"}})
	if r.status != 422 || !strings.Contains(r.errorMessage(t), "faces found: crop the photo to the person's face alone") {
		t.Fatalf("group photo enrolment: %d %s", r.status, r.body)
	}
	if h.do("GET", examples, "", nil).json(t, &exs); len(exs.Examples) != 2 {
		t.Fatalf("a refused enrolment added examples: %d", len(exs.Examples))
	}

	// Recognize the whole photo: the rightmost face is the enrolled person (once the recognizer
	// has picked up the gallery change), the others are unknown.
	var rec struct {
		Faces []recognizedFaceJSON
		Width int
	}
	deadline := time.Now().Add(30 * time.Second) // generous: a loaded CI machine
	for {
		ct, body := multipartBody(t, []part{{"file", "sample1.jpg", photo}}, nil)
		r := h.do("POST", "/api/v1/recognize", ct, body)
		if r.status != 200 {
			t.Fatalf("recognize: %d %s", r.status, r.body)
		}
		r.json(t, &rec)
		known := 0
		for _, f := range rec.Faces {
			if f.Known {
				known++
			}
		}
		if known > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(rec.Faces) != len(crops) {
		t.Fatalf("recognize found %d faces, want %d", len(rec.Faces), len(crops))
	}
	var names []string
	for _, f := range rec.Faces {
		if f.Known {
			names = append(names, f.Person.Name)
			if f.Box.X < float64(rec.Width)/2 {
				t.Fatalf("the known face is on the left: %+v", f.Box)
			}
		}
	}
	if len(names) != 1 || names[0] != "Rightmost" {
		t.Fatalf("known faces %v, want [Rightmost]", names)
	}
	// Recognize by path gives the same answer.
	var byPath struct{ Faces []recognizedFaceJSON }
	h.postJSON("/api/v1/recognize", map[string]string{"path": "group.jpg"}).json(t, &byPath)
	if len(byPath.Faces) != len(rec.Faces) {
		t.Fatalf("by path %d faces, by upload %d", len(byPath.Faces), len(rec.Faces))
	}
	// The same with the README's curl -d style: the literal body, sent as a form type.
	var byCurlD struct{ Faces []recognizedFaceJSON }
	if r := h.do("POST", "/api/v1/recognize", "application/x-www-form-urlencoded", []byte(`{"path":"group.jpg"}`)); r.status != 200 {
		t.Fatalf("recognize sent like curl -d: %d %s", r.status, r.body)
	} else {
		r.json(t, &byCurlD)
	}
	if len(byCurlD.Faces) != len(rec.Faces) {
		t.Fatalf("sent like curl -d %d faces, by upload %d", len(byCurlD.Faces), len(rec.Faces))
	}

	// Verify: the same face twice is the same person, two different faces are not.
	type verdict struct {
		Distance float64
		Same     bool
	}
	var same, diff verdict
	ct, body = multipartBody(t, []part{{"a", "right.jpg", right}, {"b", "group-right.jpg", right}}, nil)
	if r := h.do("POST", "/api/v1/verify", ct, body); r.status != 200 {
		t.Fatalf("verify: %d %s", r.status, r.body)
	} else {
		r.json(t, &same)
	}
	ct, body = multipartBody(t, []part{{"a", "left.jpg", left}, {"b", "right.jpg", right}}, nil)
	h.do("POST", "/api/v1/verify", ct, body).json(t, &diff)
	if !same.Same || same.Distance > 0.1 || diff.Same || diff.Distance <= 0.6 {
		t.Fatalf("verify same %+v, different %+v", same, diff)
	}
	// Bad input to the synchronous endpoints.
	ct, body = multipartBody(t, []part{{"a", "left.jpg", left}}, nil)
	if r := h.do("POST", "/api/v1/verify", ct, body); r.status != 400 {
		t.Fatalf("verify with one image: %d", r.status)
	}
	ct, body = multipartBody(t, []part{{"file", "x.txt", []byte("not an image")}}, nil)
	if r := h.do("POST", "/api/v1/recognize", ct, body); r.status != 415 {
		t.Fatalf("recognize a text file: %d", r.status)
	}
	if r := h.postJSON("/api/v1/recognize", map[string]string{"path": "../etc/passwd"}); r.status != 422 {
		t.Fatalf("recognize outside the root: %d", r.status)
	}

	// An example left by an older model, enrolled by upload before originals were kept: the API
	// flags it as stale and asks for its photo again.
	old, err := h.st.AddExample(context.Background(), store.NewExample{PersonID: p.ID, Descriptor: make([]float32, store.DescriptorLen), Model: "an-older-model", Source: "upload:old.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	h.do("GET", examples, "", nil).json(t, &exs)
	if n := len(exs.Examples); n != 3 || exs.Examples[2].ID != old.ID || !exs.Examples[2].Stale || !exs.Examples[2].NeedsReenrol {
		t.Fatalf("an old example without original: %+v", exs.Examples)
	}
}
