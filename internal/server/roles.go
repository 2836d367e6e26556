package server

import (
	"context"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"sort"

	"github.com/facecluster/facecluster/face/imageio"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/config"
	"github.com/facecluster/facecluster/web"
)

// registerRoles adds the HTTP roles (receiver API, web UI) to the mux.
func (s *Server) registerRoles(ctx context.Context) error {
	_ = ctx
	if s.cfg.Has(config.RoleWeb) {
		w, err := web.New(web.Options{
			CacheDir:     filepath.Join(s.cfg.DataDir, "thumbs"),
			AccessTokens: s.cfg.APITokens,
			SessionKey:   []byte(s.cfg.SessionKey),
			// The same decoding as the engine's (EXIF orientation applied), so boxes line up.
			Decode: func(r io.Reader) (image.Image, error) {
				img, _, err := imageio.Decode(r, s.limits())
				return img, err
			},
			Logger: s.log,
		}, web.Deps{Store: s.store, Status: statusSource{s}})
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		w.Register(s.mux)
		s.web = w
	}
	return nil
}

// statusSource tells the web status page what only this process knows.
type statusSource struct{ s *Server }

func (src statusSource) Status(ctx context.Context) (web.StatusReport, error) {
	s := src.s
	var rep web.StatusReport
	if s.nsqd != nil {
		rep.QueueDepth, rep.QueueKnown = s.nsqd.Depth(), true
	}
	if s.breaker != nil {
		switch st := s.breaker.State(); st {
		case breaker.Probing:
			rep.Breaker = "half-open"
		default:
			rep.Breaker = st.String()
		}
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		s.mu.Lock()
		fn := s.checks[n]
		s.mu.Unlock()
		h := web.RoleHealth{Name: n, Healthy: true, Detail: "ok"}
		if err := fn(ctx); err != nil {
			h.Healthy, h.Detail = false, err.Error()
		}
		rep.Roles = append(rep.Roles, h)
	}
	return rep, nil
}
