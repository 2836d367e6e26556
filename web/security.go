package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// contentSecurityPolicy allows only this origin's own scripts, styles and images: no inline
// script or style anywhere, so an escaping mistake cannot become script execution. Face boxes
// and charts are SVG attributes, not inline styles, for that reason.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every response of the UI carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

const (
	csrfCookie = "fc_csrf"
	csrfField  = "csrf_token"
	csrfHeader = "X-CSRF-Token"
)

// csrf protects every mutating request twice: net/http's CrossOriginProtection refuses
// cross-origin browser requests (Sec-Fetch-Site / Origin), and a token bound to a per-browser
// cookie must accompany the request as a form field or header (for browsers that send neither
// header, and as defence in depth). The token is an HMAC of the cookie under a per-process key,
// so a cookie planted by a sibling subdomain cannot be paired with a token the attacker made up.
type csrf struct {
	key   []byte
	cop   *http.CrossOriginProtection
	onErr func(w http.ResponseWriter, r *http.Request)
	// onTooLarge answers a form whose body exceeds maxBody.
	onTooLarge func(w http.ResponseWriter, r *http.Request)
	// maxBody bounds a request body read to find the token (a multipart form is parsed whole
	// here, before the handler sees it), so no request is read without a limit.
	maxBody int64
}

func newCSRF(key []byte, maxBody int64, onErr, onTooLarge func(w http.ResponseWriter, r *http.Request)) *csrf {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	c := &csrf{key: key, cop: http.NewCrossOriginProtection(), onErr: onErr, onTooLarge: onTooLarge, maxBody: maxBody}
	c.cop.SetDenyHandler(http.HandlerFunc(onErr))
	return c
}

// token returns the token for this browser, setting its cookie when it has none yet.
func (c *csrf) token(w http.ResponseWriter, r *http.Request) string {
	seed := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 16 {
		seed = ck.Value
	} else {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		seed = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: seed, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		// Later handlers in this request (the page being rendered) must see the same seed.
		r.AddCookie(&http.Cookie{Name: csrfCookie, Value: seed})
	}
	return c.sign(seed)
}

func (c *csrf) sign(seed string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(seed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// formToken reads the token from the header, or else from the form (parsed within maxBody;
// for a multipart form that is the whole form, files included, which the handler then reuses).
func (c *csrf) formToken(r *http.Request) (string, error) {
	if tok := r.Header.Get(csrfHeader); tok != "" {
		return tok, nil
	}
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(32 << 20)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return "", err
	}
	return r.PostFormValue(csrfField), nil
}

func (c *csrf) valid(r *http.Request, token string) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(c.sign(ck.Value))) == 1
}

// protect wraps h: safe methods pass, anything else needs a same-origin request and a valid token.
func (c *csrf) protect(h http.Handler) http.Handler {
	checked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			r.Body = http.MaxBytesReader(w, r.Body, c.maxBody)
			tok, err := c.formToken(r)
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				c.onTooLarge(w, r)
				return
			}
			if !c.valid(r, tok) {
				c.onErr(w, r)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
	return c.cop.Handler(checked)
}
