// Package httpjson writes JSON answers for the HTTP handlers of the receiver, the web UI, the API
// token check, the health endpoints and the dev cluster's control API, so all of them answer the
// same way: Content-Type application/json, the status code, then the encoded value.
//
// It is a few lines over encoding/json; it exists so that those handlers share one definition
// instead of each carrying its own copy.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers v as JSON with the status code. An encoding error is not reported: the status
// line is already sent, and the client sees a truncated body.
func Write(w http.ResponseWriter, code int, v any) {
	write(w, code, v, false)
}

// WriteIndented is Write with two-space indentation, for answers people read with curl.
func WriteIndented(w http.ResponseWriter, code int, v any) {
	write(w, code, v, true)
}

func write(w http.ResponseWriter, code int, v any, indent bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	_ = enc.Encode(v)
}
