package web

import (
	"net/http"
	"net/url"
)

// Access control is internal/auth's, shared with the API: with Options.AccessTokens set, a
// person signs in once with one of the API tokens and gets its signed, expiring session cookie
// (which the API accepts too; the token itself is never stored in the browser). Without tokens
// the UI is open, like the API.

func (s *Server) authEnabled() bool { return s.auth.Enabled() }

// requireLogin sends people without a session to the login page (scripts get 401).
func (s *Server) requireLogin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.auth.Authenticated(r) {
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
	if !s.auth.Login(w, r.PostFormValue("token"), r.TLS != nil) {
		s.log.InfoContext(r.Context(), "sign-in refused", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: "That token is not valid. Ask the administrator for an API token.", Data: loginData{Next: next}})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.auth.Logout(w)
	if s.authEnabled() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
