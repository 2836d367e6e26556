package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestOffByDefault(t *testing.T) {
	a := New(nil)
	if a.Enabled() {
		t.Fatal("enabled without tokens")
	}
	h := a.RequireAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/images", nil))
	if rec.Code != 204 {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestBearerAndSession(t *testing.T) {
	a := New([]string{"s3cret", " ", "other"})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	api := a.RequireAPI(ok)
	ui := a.RequireSession("/login", ok)
	cases := []struct {
		name   string
		header string
		want   int
	}{
		{"no credentials", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"basic scheme", "Basic czNjcmV0", 401},
		{"good token", "Bearer s3cret", 204},
		{"second token, odd case scheme", "bearer other", 204},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/images", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d", rec.Code, c.want)
			}
			if c.want == 401 && (!strings.Contains(rec.Body.String(), `"error"`) || rec.Header().Get("WWW-Authenticate") == "") {
				t.Fatalf("401 without JSON error or challenge: %q", rec.Body.String())
			}
		})
	}
	// The UI redirects to the login page, and a login sets a cookie the API accepts too.
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, httptest.NewRequest("GET", "/people?x=1", nil))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login?next=%2Fpeople%3Fx%3D1" {
		t.Fatalf("redirect %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if a.Login(httptest.NewRecorder(), "wrong", false) {
		t.Fatal("login with a wrong token")
	}
	rec = httptest.NewRecorder()
	if !a.Login(rec, "s3cret", true) {
		t.Fatal("login refused")
	}
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie flags %+v", cookie)
	}
	req := httptest.NewRequest("GET", "/people", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	ui.ServeHTTP(rec, req)
	if rec.Code != 204 {
		t.Fatalf("session refused: %d", rec.Code)
	}
	// Tampered, expired, and sessions of other tokens are refused.
	for name, mutate := range map[string]func(*Auth, *http.Cookie){
		"tampered": func(_ *Auth, c *http.Cookie) { c.Value = "9" + c.Value },
		"expired": func(a *Auth, _ *http.Cookie) {
			a.now = func() time.Time { return time.Now().Add(13 * time.Hour) }
		},
		"rotated tokens": func(*Auth, *http.Cookie) {},
	} {
		b := New([]string{"s3cret", "other"})
		if name == "rotated tokens" {
			b = New([]string{"new"})
		}
		c := *cookie
		mutate(b, &c)
		req := httptest.NewRequest("GET", "/people", nil)
		req.AddCookie(&c)
		if b.Authenticated(req) {
			t.Errorf("%s session accepted", name)
		}
	}
}
