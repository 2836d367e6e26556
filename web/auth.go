package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Access control shares the API's tokens: with Options.AccessTokens set, a person signs in once
// with a token and gets a session cookie (HMAC-signed expiry; the token itself is never stored
// in the browser). Without tokens the UI is open, like the API.

const sessionCookie = "fc_session"

func (s *Server) authEnabled() bool { return len(s.opts.AccessTokens) > 0 }

func (s *Server) sessionValue(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	m := hmac.New(sha256.New, s.csrf.key)
	m.Write([]byte("session:" + e))
	return e + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) signedIn(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	e, _, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	unix, err := strconv.ParseInt(e, 10, 64)
	if err != nil || time.Now().Unix() > unix {
		return false
	}
	want := s.sessionValue(time.Unix(unix, 0))
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(want)) == 1
}

// requireLogin sends people without a session to the login page (scripts get 401).
func (s *Server) requireLogin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authEnabled() || s.signedIn(r) {
			h.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet || wantsJSON(r) || r.URL.Path == "/events" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in first"})
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

type loginData struct{ Next string }

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if !s.authEnabled() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Data: loginData{Next: localBack(r.URL.Query().Get("next"), "/")}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.authEnabled() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	next := localBack(r.PostFormValue("next"), "/")
	token := r.PostFormValue("token")
	ok := false
	for _, t := range s.opts.AccessTokens {
		// Compare every token (no early exit) so timing does not reveal which one matched.
		if subtle.ConstantTimeCompare([]byte(token), []byte(t)) == 1 {
			ok = true
		}
	}
	if !ok {
		s.log.InfoContext(r.Context(), "sign-in refused", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: "That token is not valid. Ask the administrator for an API token.", Data: loginData{Next: next}})
		return
	}
	exp := time.Now().Add(s.opts.SessionTTL)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.sessionValue(exp), Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	if s.authEnabled() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
