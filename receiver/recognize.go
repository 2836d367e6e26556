package receiver

import (
	"math"
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
// their faces the same person? The most confident face of each image is compared.
func (rc *Receiver) verify(w http.ResponseWriter, r *http.Request) {
	if err := rc.needRecognizer(); err != nil {
		rc.fail(w, r, err)
		return
	}
	var req struct {
		A         string  `json:"a"`
		B         string  `json:"b"`
		Threshold float64 `json:"threshold"`
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
	threshold := req.Threshold
	if threshold <= 0 {
		threshold = rc.opts.MatchThreshold
	}
	var descs [2][]float32
	var counts [2]int
	for i, in := range inputs {
		resp, err := rc.opts.Recognizer.Describe(r.Context(), &recognizerv1.DescribeRequest{Image: in.img, WholeImageFallback: assumeCropped})
		if err != nil {
			rc.fail(w, r, recognizerError(in.label, err))
			return
		}
		faces := resp.GetFaces()
		if len(faces) == 0 {
			rc.fail(w, r, errorf(http.StatusUnprocessableEntity, "%s: no face found (for a tight crop of one face, send assume_cropped=true)", in.label))
			return
		}
		best := faces[0]
		for _, f := range faces[1:] {
			if f.GetScore() > best.GetScore() {
				best = f
			}
		}
		descs[i], counts[i] = best.GetEmbedding(), len(faces)
	}
	if len(descs[0]) != len(descs[1]) || len(descs[0]) == 0 {
		rc.fail(w, r, errorf(http.StatusBadGateway, "the recognizer returned descriptors of different sizes"))
		return
	}
	var sum float64
	for i := range descs[0] {
		d := float64(descs[0][i] - descs[1][i])
		sum += d * d
	}
	dist := math.Sqrt(sum)
	httpjson.Write(w, http.StatusOK, map[string]any{"distance": dist, "same": dist < threshold, "threshold": threshold, "faces_a": counts[0], "faces_b": counts[1]})
}
