package web

import (
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"path"
	"strings"

	"github.com/facecluster/facecluster/store"
)

type uploadResult struct {
	Name   string
	ID     int64
	Status string
	People string
	Error  string
}

type uploadData struct {
	Enabled bool
	MaxMB   int64
	Sources string
	Results []uploadResult
}

func (s *Server) uploadData() uploadData {
	return uploadData{Enabled: s.deps.Pipeline != nil, MaxMB: s.opts.MaxUploadBytes >> 20}
}

func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "upload", page{Title: "Upload", Nav: "upload", Live: true, Data: s.uploadData()})
}

// maxUploadFiles bounds one form post of files (each file is also bounded by MaxUploadBytes).
const maxUploadFiles = 200

// uploadForm takes the plain (no script) form post of many files.
func (s *Server) uploadForm(w http.ResponseWriter, r *http.Request) {
	data := s.uploadData()
	if s.deps.Pipeline == nil {
		s.render(w, r, http.StatusServiceUnavailable, "upload", page{Title: "Upload", Nav: "upload", Data: data})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadFiles*s.opts.MaxUploadBytes)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		s.render(w, r, http.StatusBadRequest, "upload", page{Title: "Upload", Nav: "upload", Data: data,
			Error: "The upload could not be read (" + uploadProblem(err, s.opts.MaxUploadBytes*maxUploadFiles) + "). Try fewer or smaller files."})
		return
	}
	defer r.MultipartForm.RemoveAll()
	files := r.MultipartForm.File["file"]
	if len(files) == 0 {
		s.render(w, r, http.StatusBadRequest, "upload", page{Title: "Upload", Nav: "upload", Data: data, Error: "Choose at least one picture to upload."})
		return
	}
	code := http.StatusOK
	for _, fh := range files {
		res := s.submitFile(r, fh)
		if res.Error != "" {
			code = http.StatusBadRequest
		}
		data.Results = append(data.Results, res)
	}
	s.render(w, r, code, "upload", page{Title: "Upload", Nav: "upload", Live: true, Data: data})
}

// uploadFile takes one file posted by the page's script and answers JSON.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	if s.deps.Pipeline == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "uploading is not available on this server"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxUploadBytes+1<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": uploadProblem(err, s.opts.MaxUploadBytes)})
		return
	}
	defer r.MultipartForm.RemoveAll()
	files := r.MultipartForm.File["file"]
	if len(files) != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send exactly one file in the field \"file\""})
		return
	}
	res := s.submitFile(r, files[0])
	if res.Error != "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": res.Error})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": res.ID, "status": res.Status, "status_label": statusLabel(res.Status)})
}

func uploadProblem(err error, limit int64) string {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Sprintf("it is larger than %d MB", limit>>20)
	}
	return "it is not a file upload the server understands"
}

func (s *Server) submitFile(r *http.Request, fh *multipart.FileHeader) uploadResult {
	name := path.Base(strings.ReplaceAll(fh.Filename, `\`, "/"))
	res := uploadResult{Name: name, Status: string(store.StatusFailed)}
	if fh.Size > s.opts.MaxUploadBytes {
		res.Error = fmt.Sprintf("%s is larger than %d MB", name, s.opts.MaxUploadBytes>>20)
		return res
	}
	f, err := fh.Open()
	if err != nil {
		res.Error = name + " could not be read from the upload"
		return res
	}
	defer f.Close()
	id, err := s.deps.Pipeline.SubmitUpload(r.Context(), name, f)
	if err != nil {
		res.Error = s.userMessage(r, err, name+" was not accepted")
		return res
	}
	res.ID, res.Status = id, string(store.StatusPending)
	return res
}

// userMessage turns an error from the pipeline into a sentence for the person; causes they
// cannot act on are logged and summarised.
func (s *Server) userMessage(r *http.Request, err error, what string) string {
	var ue *UserError
	if errors.As(err, &ue) {
		return what + ": " + ue.Msg
	}
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		return what + ": " + invalidDetail(err)
	}
	s.log.ErrorContext(r.Context(), what, "err", err)
	return what + " because of a server problem; the details are in the server log. Try again in a moment."
}

// maxSources bounds one paste of paths or URLs.
const maxSources = 10000

func (s *Server) uploadSources(w http.ResponseWriter, r *http.Request) {
	data := s.uploadData()
	if s.deps.Pipeline == nil {
		s.render(w, r, http.StatusServiceUnavailable, "upload", page{Title: "Upload", Nav: "upload", Data: data})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<20)
	text := r.PostFormValue("sources")
	var sources []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			sources = append(sources, line)
		}
	}
	data.Sources = text
	switch {
	case len(sources) == 0:
		s.render(w, r, http.StatusBadRequest, "upload", page{Title: "Upload", Nav: "upload", Data: data, Error: "Paste at least one path or URL, one per line."})
		return
	case len(sources) > maxSources:
		s.render(w, r, http.StatusBadRequest, "upload", page{Title: "Upload", Nav: "upload", Data: data,
			Error: fmt.Sprintf("That is %d lines; submit at most %d at a time (or use the API for bulk).", len(sources), maxSources)})
		return
	}
	code := http.StatusOK
	for _, res := range s.deps.Pipeline.SubmitSources(r.Context(), sources) {
		ur := uploadResult{Name: res.Source, ID: res.ID, Status: string(store.StatusPending)}
		if res.Err != nil {
			ur.Error, ur.Status, code = s.userMessage(r, res.Err, res.Source+" was not accepted"), string(store.StatusFailed), http.StatusBadRequest
		} else {
			if img, err := s.deps.Store.GetImage(r.Context(), res.ID); err == nil {
				v := newImageView(img)
				ur.Status = v.Status
				ur.People = peopleText(v.People)
			}
		}
		data.Results = append(data.Results, ur)
	}
	if code == http.StatusOK {
		data.Sources = ""
	}
	s.render(w, r, code, "upload", page{Title: "Upload", Nav: "upload", Live: true, Data: data})
}

func peopleText(ps []personRef) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
