package receiver

import (
	"net/http"
	"strconv"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/internal/httpjson"
)

type recognizedFaceJSON struct {
	Box      boxJSON        `json:"box"`
	Score    float64        `json:"score"`
	Known    bool           `json:"known"`
	Person   *personRefJSON `json:"person"`
	Distance *float64       `json:"distance"`
}

// POST /api/v1/recognize: one image (multipart "file", or JSON {"path": …}); faces and who they
// are, nothing stored.
func (rc *Receiver) recognize(w http.ResponseWriter, r *http.Request) {
	if err := rc.needRecognizer(); err != nil {
		rc.fail(w, r, err)
		return
	}
	var req struct {
		Path      string  `json:"path"`
		Threshold float32 `json:"threshold"`
	}
	inputs, err := rc.readImageInputs(w, r, []string{"file"}, &req, func() []string { return []string{req.Path} })
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	if r.MultipartForm != nil {
		defer r.MultipartForm.RemoveAll()
	}
	if len(inputs) != 1 {
		rc.fail(w, r, errorf(http.StatusBadRequest, "send exactly one image (multipart field \"file\" or JSON {\"path\": ...}), got %d", len(inputs)))
		return
	}
	resp, err := rc.opts.Recognizer.Recognize(r.Context(), &recognizerv1.RecognizeRequest{Image: inputs[0].img, Threshold: req.Threshold})
	if err != nil {
		rc.fail(w, r, recognizerError("recognize", err))
		return
	}
	faces := make([]recognizedFaceJSON, 0, len(resp.GetFaces()))
	for _, f := range resp.GetFaces() {
		b := f.GetBox()
		fj := recognizedFaceJSON{Box: boxJSON{b.GetX(), b.GetY(), b.GetWidth(), b.GetHeight()}, Score: f.GetScore()}
		if m := f.GetMatch(); m != nil {
			fj.Known = m.GetKnown()
			fj.Distance = floatPtr(float64(m.GetDistance()))
			if m.GetKnown() {
				fj.Person = &personRefJSON{ID: m.GetPersonId(), Name: m.GetPerson()}
			}
		}
		faces = append(faces, fj)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"faces": faces, "width": resp.GetWidth(), "height": resp.GetHeight()})
}

// POST /api/v1/verify: two images (multipart "a" and "b", or JSON {"a": path, "b": path}); are
// their faces the same person? The recognizer decides (Verify): it compares the primary face of
// each image — the largest, as `facecluster compare` does — with its own threshold unless the
// request sets one.
func (rc *Receiver) verify(w http.ResponseWriter, r *http.Request) {
	if err := rc.needRecognizer(); err != nil {
		rc.fail(w, r, err)
		return
	}
	var req struct {
		A         string  `json:"a"`
		B         string  `json:"b"`
		Threshold float32 `json:"threshold"`
		// AssumeCropped takes a picture in which no face is detected whole, as one face (a tight
		// crop), like `facecluster compare --assume-cropped`; without it such a picture is a 422.
		AssumeCropped bool `json:"assume_cropped"`
	}
	inputs, err := rc.readImageInputs(w, r, []string{"a", "b"}, &req, func() []string { return []string{req.A, req.B} })
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	assumeCropped := req.AssumeCropped
	if r.MultipartForm != nil {
		defer r.MultipartForm.RemoveAll()
		assumeCropped, _ = strconv.ParseBool(r.FormValue("assume_cropped"))
	}
	if len(inputs) != 2 {
		rc.fail(w, r, errorf(http.StatusBadRequest, "send two images: multipart fields \"a\" and \"b\" (or JSON {\"a\": path, \"b\": path}), got %d", len(inputs)))
		return
	}
	resp, err := rc.opts.Recognizer.Verify(r.Context(), &recognizerv1.VerifyRequest{
		A: inputs[0].img, B: inputs[1].img, Threshold: req.Threshold, WholeImageFallback: assumeCropped,
	})
	if err != nil {
		rc.fail(w, r, recognizerError("verify", err))
		return
	}
	for i, vi := range []*recognizerv1.VerifiedImage{resp.GetA(), resp.GetB()} {
		if vi.GetFaces() == 0 {
			rc.fail(w, r, errorf(http.StatusUnprocessableEntity, "%s: no face found (for a tight crop of one face, send assume_cropped=true)", inputs[i].label))
			return
		}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{
		"distance": resp.GetDistance(), "same": resp.GetSame(), "threshold": resp.GetThreshold(),
		"faces_a": resp.GetA().GetFaces(), "faces_b": resp.GetB().GetFaces(),
	})
}
