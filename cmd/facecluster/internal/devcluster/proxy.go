package devcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proxy is the cluster's load balancer in front of the receivers: round robin over the
// receivers in rotation, like a Kubernetes Service over Ready endpoints. A receiver leaves the
// rotation when its readiness check fails or before it is stopped on purpose; a request whose
// connection is refused (a receiver that just died) is sent to the next one, since nothing of it
// reached the dead one, and so is an idempotent request (GET, HEAD, OPTIONS) that failed for
// any reason, as load balancers do.
type proxy struct {
	log       *slog.Logger
	receivers []*Member
	next      atomic.Uint64
	rp        *httputil.ReverseProxy

	mu         sync.Mutex
	inRotation map[string]bool
}

// maxProxyBody bounds the request bodies the proxy buffers to be able to resend them.
const maxProxyBody = 64 << 20

func newProxy(log *slog.Logger, receivers []*Member) *proxy {
	p := &proxy{log: log, receivers: receivers, inRotation: map[string]bool{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetXForwarded() },
		Transport: p,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.log.Warn("proxy: no receiver could take the request", "path", r.URL.Path, "err", err)
			http.Error(w, `{"error":"no receiver available"}`, http.StatusBadGateway)
		},
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.rp.ServeHTTP(w, r) }

func (p *proxy) setRotation(name string, in bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inRotation[name] != in {
		p.log.Info("proxy rotation", "member", name, "in", in)
	}
	p.inRotation[name] = in
}

func (p *proxy) rotation() []*Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ms []*Member
	for _, m := range p.receivers {
		if p.inRotation[m.Name] {
			ms = append(ms, m)
		}
	}
	return ms
}

// RoundTrip sends the request to the next receiver in rotation, trying the others when a
// connection is refused.
func (p *proxy) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxProxyBody+1))
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		if len(b) > maxProxyBody {
			return nil, fmt.Errorf("request body over %d bytes", maxProxyBody)
		}
		body = b
	}
	ms := p.rotation()
	if len(ms) == 0 {
		return nil, errors.New("no receiver in rotation")
	}
	start := int(p.next.Add(1))
	var lastErr error
	for i := range ms {
		m := ms[(start+i)%len(ms)]
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = "http", m.HTTPAddr
		out.Host = m.HTTPAddr
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.ContentLength = int64(len(body))
		}
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		lastErr = fmt.Errorf("%s: %w", m.Name, err)
		refused := errors.Is(err, syscall.ECONNREFUSED)
		if refused {
			p.setRotation(m.Name, false)
		}
		// A refused connection received nothing; an idempotent request may be sent again
		// whatever happened to it (say the receiver died while answering).
		if !refused && !idempotent(req.Method) {
			return nil, lastErr
		}
	}
	return nil, lastErr
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// watch keeps the rotation equal to the receivers that answer /readyz, as readiness probes do.
// Receivers taken out on purpose (paused) stay out until resumed.
func (p *proxy) watch(ctx context.Context, paused func(name string) bool) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, m := range p.receivers {
			p.setRotation(m.Name, !paused(m.Name) && m.ready(ctx))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// serve listens on addr until ctx ends.
func (p *proxy) serve(ctx context.Context, l net.Listener) {
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		p.log.Error("proxy stopped", "err", err)
	}
}
