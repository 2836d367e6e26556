// Package auth is facecluster's access control: off by default; with API tokens configured, API
// calls need `Authorization: Bearer <token>` and the web UI logs in once with a token and keeps a
// session cookie.
//
// The session cookie is an expiry time signed with HMAC-SHA256 under a key derived from the
// configured tokens (standard library crypto; no session store): every replica configured with
// the same tokens accepts it without shared state, and changing the tokens ends every session.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/facecluster/facecluster/internal/httpjson"
)

// CookieName is the session cookie's name.
const CookieName = "facecluster_session"

// Auth checks tokens and sessions. The zero value and New(nil) allow everything.
type Auth struct {
	tokens     [][]byte
	key        []byte
	SessionTTL time.Duration // default 12h
	now        func() time.Time
}

// New returns an Auth accepting the given bearer tokens (empty ones are ignored); with none,
// access control is off.
func New(tokens []string) *Auth {
	a := &Auth{SessionTTL: 12 * time.Hour, now: time.Now}
	sorted := slices.Clone(tokens)
	slices.Sort(sorted)
	mac := sha256.New()
	mac.Write([]byte("facecluster session key v1\x00"))
	for _, t := range sorted {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		a.tokens = append(a.tokens, []byte(t))
		mac.Write([]byte(t))
		mac.Write([]byte{0})
	}
	a.key = mac.Sum(nil)
	return a
}

// Enabled reports whether access control is on.
func (a *Auth) Enabled() bool { return a != nil && len(a.tokens) > 0 }

// ValidToken reports whether token is one of the configured tokens (constant time per token).
func (a *Auth) ValidToken(token string) bool {
	if !a.Enabled() {
		return true
	}
	ok := 0
	for _, t := range a.tokens {
		ok |= subtle.ConstantTimeCompare(t, []byte(token))
	}
	return ok == 1
}

// bearer extracts the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// Authenticated reports whether the request carries a valid bearer token or session cookie
// (always true when access control is off).
func (a *Auth) Authenticated(r *http.Request) bool {
	if !a.Enabled() {
		return true
	}
	if tok, ok := bearer(r); ok {
		return a.ValidToken(tok)
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return a.validSession(c.Value)
	}
	return false
}

// RequireAPI wraps API handlers: without valid credentials the answer is 401 with a JSON error.
func (a *Auth) RequireAPI(next http.Handler) http.Handler {
	if !a.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Authenticated(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="facecluster"`)
		msg := "missing or invalid API token: send Authorization: Bearer <token>"
		if _, ok := bearer(r); !ok && r.Header.Get("Authorization") != "" {
			msg = "unsupported Authorization scheme: send Authorization: Bearer <token>"
		}
		httpjson.Write(w, http.StatusUnauthorized, map[string]string{"error": msg})
	})
}

// RequireSession wraps UI handlers: without valid credentials the browser is sent to loginPath
// (with ?next= the requested path).
func (a *Auth) RequireSession(loginPath string, next http.Handler) http.Handler {
	if !a.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Authenticated(r) {
			next.ServeHTTP(w, r)
			return
		}
		http.Redirect(w, r, loginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

// Login checks token and, when valid, sets the session cookie; it reports whether it did.
// secure marks the cookie Secure (serve over HTTPS).
func (a *Auth) Login(w http.ResponseWriter, token string, secure bool) bool {
	if !a.Enabled() || !a.ValidToken(strings.TrimSpace(token)) {
		return false
	}
	exp := a.now().Add(a.ttl())
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: a.sign(exp), Path: "/", Expires: exp,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
	return true
}

// Logout clears the session cookie.
func (a *Auth) Logout(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (a *Auth) ttl() time.Duration {
	if a.SessionTTL <= 0 {
		return 12 * time.Hour
	}
	return a.SessionTTL
}

func (a *Auth) sign(exp time.Time) string {
	v := strconv.FormatInt(exp.Unix(), 10)
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(v))
	return v + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (a *Auth) validSession(v string) bool {
	ts, sig, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || a.now().Unix() >= sec {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(ts))
	return hmac.Equal(got, m.Sum(nil))
}
