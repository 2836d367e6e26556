package httpjson

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name  string
		write func(http.ResponseWriter, int, any)
		want  string
	}{
		{"compact", Write, "{\"id\":7,\"name\":\"Ada\"}\n"},
		{"indented", WriteIndented, "{\n  \"id\": 7,\n  \"name\": \"Ada\"\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.write(rec, http.StatusCreated, struct {
				ID   int    `json:"id"`
				Name string `json:"name"`
			}{7, "Ada"})
			if rec.Code != http.StatusCreated {
				t.Errorf("status = %d, want %d", rec.Code, http.StatusCreated)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if got := rec.Body.String(); got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
		})
	}
}
