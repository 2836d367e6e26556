package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"

	"github.com/facecluster/facecluster/store"
)

// ReceiverClient is the Pipeline of a UI that works through the receiver's HTTP API (/api/v1,
// described in the receiver's OpenAPI document): uploads, paths and URLs, retries and
// enrolment go exactly where API clients' go, with the same checks, blob storage and queue.
// It reaches the receiver in the same process (Handler) or at a base URL (a separate web
// Deployment in front of the receiver Service).
type ReceiverClient struct {
	base   string
	token  string
	client *http.Client
}

// NewReceiverClient talks to the receiver at baseURL (e.g. "http://receiver:8080") with the
// bearer token (empty when access control is off).
func NewReceiverClient(baseURL, token string, client *http.Client) *ReceiverClient {
	if client == nil {
		client = http.DefaultClient
	}
	return &ReceiverClient{base: strings.TrimRight(baseURL, "/"), token: token, client: client}
}

// NewInProcessReceiverClient calls the receiver's handler (the process's mux) directly, with no
// network in between.
func NewInProcessReceiverClient(h http.Handler, token string) *ReceiverClient {
	return NewReceiverClient("http://in-process", token, &http.Client{Transport: handlerTransport{h}})
}

// handlerTransport serves requests with an http.Handler in memory.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := &memoryResponse{header: http.Header{}, code: http.StatusOK}
	t.h.ServeHTTP(w, req)
	return &http.Response{
		StatusCode: w.code, Status: http.StatusText(w.code), Header: w.header,
		Body: io.NopCloser(bytes.NewReader(w.body.Bytes())), ContentLength: int64(w.body.Len()),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req,
	}, nil
}

type memoryResponse struct {
	mu     sync.Mutex
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (m *memoryResponse) Header() http.Header { return m.header }
func (m *memoryResponse) WriteHeader(code int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.wrote {
		m.code, m.wrote = code, true
	}
}
func (m *memoryResponse) Write(b []byte) (int, error) {
	m.WriteHeader(http.StatusOK)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.body.Write(b)
}

// do sends a request and decodes a 2xx JSON answer into out; an error answer becomes an error
// carrying the receiver's message (a UserError for problems with the input).
func (c *ReceiverClient) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("receiver request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("receiver %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("receiver %s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		switch {
		case res.StatusCode == http.StatusNotFound:
			return fmt.Errorf("receiver: %w: %s", store.ErrNotFound, e.Error)
		case res.StatusCode == http.StatusConflict:
			return fmt.Errorf("receiver: %w: %s", store.ErrConflict, e.Error)
		case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
			return fmt.Errorf("receiver refused the UI's credentials (%d): %s", res.StatusCode, e.Error)
		case res.StatusCode < 500 || res.StatusCode == http.StatusServiceUnavailable:
			return &UserError{Msg: e.Error}
		}
		return fmt.Errorf("receiver %s %s: %d %s", method, path, res.StatusCode, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("receiver %s %s: unexpected answer: %w", method, path, err)
		}
	}
	return nil
}

type submittedImages struct {
	Images []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	} `json:"images"`
}

// multipartFile builds a one-file multipart body in field "file".
func multipartFile(filename string, body io.Reader, fields map[string]string) (*bytes.Buffer, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			return nil, "", err
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		return nil, "", err
	}
	if _, err := io.Copy(fw, body); err != nil {
		return nil, "", fmt.Errorf("read %s: %w", filename, err)
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, mw.FormDataContentType(), nil
}

// SubmitUpload implements Pipeline.
func (c *ReceiverClient) SubmitUpload(ctx context.Context, filename string, body io.Reader) (int64, error) {
	buf, ct, err := multipartFile(filename, body, nil)
	if err != nil {
		return 0, err
	}
	var out submittedImages
	if err := c.do(ctx, http.MethodPost, "/api/v1/images/upload", ct, buf, &out); err != nil {
		return 0, err
	}
	if len(out.Images) != 1 {
		return 0, fmt.Errorf("receiver answered %d images for one upload", len(out.Images))
	}
	return out.Images[0].ID, nil
}

type sourceItem struct {
	Path string `json:"path,omitempty"`
	URL  string `json:"url,omitempty"`
}

func sourceItems(sources []string) []sourceItem {
	items := make([]sourceItem, len(sources))
	for i, s := range sources {
		if strings.Contains(s, "://") {
			items[i].URL = s
		} else {
			items[i].Path = s
		}
	}
	return items
}

// SubmitSources implements Pipeline: one bulk request, and when the receiver refuses it
// (it refuses a whole request for one bad source), one request per source so that each
// source gets its own answer.
func (c *ReceiverClient) SubmitSources(ctx context.Context, sources []string) []SourceResult {
	out := make([]SourceResult, len(sources))
	for i, s := range sources {
		out[i].Source = s
	}
	submit := func(items []sourceItem) (submittedImages, error) {
		body, _ := json.Marshal(map[string]any{"images": items})
		var res submittedImages
		err := c.do(ctx, http.MethodPost, "/api/v1/images", "application/json", bytes.NewReader(body), &res)
		if err == nil && len(res.Images) != len(items) {
			err = fmt.Errorf("receiver answered %d images for %d sources", len(res.Images), len(items))
		}
		return res, err
	}
	items := sourceItems(sources)
	res, err := submit(items)
	if err == nil {
		for i := range out {
			out[i].ID = res.Images[i].ID
		}
		return out
	}
	var ue *UserError
	if len(sources) == 1 || !errors.As(err, &ue) {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	for i, it := range items {
		r, err := submit([]sourceItem{it})
		if err != nil {
			// The receiver names the field ("images[0].path: …"); the person knows which line.
			if errors.As(err, &ue) {
				_, msg, ok := strings.Cut(ue.Msg, ": ")
				if ok && strings.HasPrefix(ue.Msg, "images[") {
					err = &UserError{Msg: msg, Err: ue.Err}
				}
			}
			out[i].Err = err
			continue
		}
		out[i].ID = r.Images[0].ID
	}
	return out
}

// RetryImage implements Pipeline.
func (c *ReceiverClient) RetryImage(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/images/%d/retry", id), "", nil, nil)
}

// RetryFailed implements Pipeline.
func (c *ReceiverClient) RetryFailed(ctx context.Context) (int, error) {
	var out struct {
		Retried int `json:"retried"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/images/retry", "application/json", strings.NewReader(`{"status":["failed"]}`), &out)
	return out.Retried, err
}

// EnrolUpload implements Pipeline.
func (c *ReceiverClient) EnrolUpload(ctx context.Context, personID int64, filename string, body io.Reader, allowLowQuality bool) ([]string, error) {
	var fields map[string]string
	if allowLowQuality {
		fields = map[string]string{"allow_low_quality": "true"}
	}
	buf, ct, err := multipartFile(filename, body, fields)
	if err != nil {
		return nil, err
	}
	var out struct {
		Examples []struct {
			Warnings []string `json:"warnings"`
		} `json:"examples"`
	}
	if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/people/%d/examples", personID), ct, buf, &out); err != nil {
		var ue *UserError
		if errors.As(err, &ue) { // the page's way of saying it, not the API's
			ue.Msg = strings.Replace(ue.Msg, "(or send allow_low_quality=true to enrol it anyway)", "(or tick “Add even if a photo fails the quality check”)", 1)
		}
		return nil, err
	}
	var warnings []string
	for _, e := range out.Examples {
		warnings = append(warnings, e.Warnings...)
	}
	return warnings, nil
}
