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
// Wiring: New(Options, Deps) then Register(mux) on the process's one HTTP listener; Close ends
// open event streams (call it before http.Server.Shutdown, which waits for them).
package web
