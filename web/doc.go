// Package web is facecluster's user interface: server-rendered pages over the store, for seeing
// who is in every picture, uploading, enrolling people and following a person's history.
//
// Pages are html/template (contextual escaping everywhere) with a little hand-written CSS and
// JavaScript, all embedded in the binary: no front-end build step. Every response carries a
// strict Content-Security-Policy (no inline script or style), every mutating request needs a
// same-origin request and a CSRF token, and errors reach people as sentences they can act on;
// the details go to the log. Live updates are server-sent events fed by one poller of the store
// per server, so any number of open pages costs one cheap query a second, and the web role works
// when it runs apart from the processors. Thumbnails are made once and cached on disk.
//
// CSRF protection (security.go) is two checks on every mutating request, on purpose:
// net/http's CrossOriginProtection refuses cross-origin browser requests by their Sec-Fetch-Site
// or Origin header, but lets a request that carries neither through (it cannot tell an old or
// header-stripping browser from curl). So a token must also come with the request, as the form
// field csrf_token or the X-CSRF-Token header: an HMAC, under a per-process key, of a random
// per-browser SameSite=Strict cookie, which a cookie planted from a sibling subdomain cannot be
// paired with. The token half is a few lines over crypto/hmac: it reads the form under a body
// limit (no request body is read unbounded) and leaves the parsed multipart form to the upload
// handler, so an upload is parsed once.
//
// Wiring: New(Options, Deps) then Register(mux) on the process's one HTTP listener; Close ends
// open event streams (call it before http.Server.Shutdown, which waits for them).
package web
