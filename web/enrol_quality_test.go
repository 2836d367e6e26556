package web

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image"
	"image/jpeg"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	xdraw "golang.org/x/image/draw"
	"google.golang.org/grpc"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/receiver"
	"github.com/facecluster/facecluster/recognizer"
)

// TestExampleUploadSaysWhatToFix adds example photos on a person's page with the real receiver,
// recognizer and engine: a blurred photo is refused with what to fix, the box lets it through
// with the problem named, and a photo in which no face was found is added with a warning.
func TestExampleUploadSaysWhatToFix(t *testing.T) {
	eng, err := face.Load(face.LoadOptions{ModelsDir: testutil.ModelsDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := newUIWithReceiver(t, func(o *receiver.Options) {
		srv, err := recognizer.New(recognizer.Options{Engine: eng, Store: o.Store, ImageRoot: o.ImageRoot, Logger: o.Logger})
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
	})
	shared := testutil.SharedTestdata(t)
	portrait, err := os.ReadFile(filepath.Join(shared, "angry.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	noFace := testutil.TightFaceCrop(t)
	blurry := smearedJPEG(t, portrait)
	ann := u.person("Ann")
	examples := fmt.Sprintf("/people/%d/examples", ann)

	res := u.postFiles(examples, map[string][]byte{"blurry.jpg": blurry}, "")
	page := u.get(res.header.Get("Location"))
	mustContain(t, page, "0 examples added.", "blurry.jpg was not added", "the face is too blurred", "use a sharper photo",
		"tick “Add even if a photo fails the quality check”", "No examples yet")

	res = u.postFilesWith(examples, map[string][]byte{"blurry.jpg": blurry}, map[string]string{"allow_low_quality": "true"})
	page = u.get(res.header.Get("Location"))
	mustContain(t, page, "1 example added.", "blurry.jpg: ", "the face is too blurred", "upload:blurry.jpg")

	res = u.postFiles(examples, map[string][]byte{"face-crop.png": noFace}, "")
	page = u.get(res.header.Get("Location"))
	mustContain(t, page, "1 example added.", html.EscapeString("face-crop.png: "+enroll.WholeImageNotice), "upload:face-crop.png")
}

// postFilesWith posts files and form fields as the person page's form does.
func (u *testUI) postFilesWith(path string, files map[string][]byte, fields map[string]string) response {
	u.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField(csrfField, u.token())
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for name, data := range files {
		fw, _ := mw.CreateFormFile("file", name)
		_, _ = fw.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, u.http.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := u.client.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	return read(u.t, res)
}

// smearedJPEG is a photo as a shaky hand takes it: shrunk to a sixteenth and blown up again.
func smearedJPEG(t *testing.T, photo []byte) []byte {
	t.Helper()
	img, _, err := imageio.Decode(bytes.NewReader(photo), imageio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	small := image.NewRGBA(image.Rect(0, 0, b.Dx()/16, b.Dy()/16))
	xdraw.CatmullRom.Scale(small, small.Bounds(), img, b, xdraw.Src, nil)
	big := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	xdraw.BiLinear.Scale(big, big.Bounds(), small, small.Bounds(), xdraw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, big, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
