package server

import (
	"context"
	"fmt"
	"image"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"time"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/auth"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/processor"
	"github.com/facecluster/facecluster/receiver"
	"github.com/facecluster/facecluster/store"
	"github.com/facecluster/facecluster/web"
)

// openBlobs opens the upload storage for the roles that read or write it.
func (s *Server) openBlobs(ctx context.Context) error {
	cfg := s.cfg
	if !cfg.Has(config.RoleReceiver) && !cfg.Has(config.RoleProcessor) && !cfg.Has(config.RoleWeb) {
		return nil
	}
	b, err := blob.Open(ctx, cfg.BlobURL)
	if err != nil {
		return fmt.Errorf("--blob-url: %w", err)
	}
	s.blobs = b
	return nil
}

// registerRoles adds the HTTP roles (receiver API, web UI) to the mux.
func (s *Server) registerRoles(ctx context.Context) error {
	cfg := s.cfg
	if err := s.openBlobs(ctx); err != nil {
		return err
	}
	var authn *auth.Auth
	if len(cfg.APITokens) > 0 {
		authn = auth.New(cfg.APITokens)
	}
	if cfg.Has(config.RoleReceiver) {
		opts := receiver.Options{
			Store: s.store, Publisher: s.publisher(), Blobs: s.blobs, ImageRoot: cfg.ImageRoot, Auth: authn,
			Logger: s.log, MaxPixels: cfg.MaxImagePixels, MatchThreshold: cfg.MatchThreshold, ModelVersion: face.ModelVersion,
		}
		if s.client != nil {
			opts.Recognizer = s.client.Recognizer()
		}
		rc, err := receiver.New(opts)
		if err != nil {
			return fmt.Errorf("receiver: %w", err)
		}
		rc.Register(s.mux)
	}
	if cfg.Has(config.RoleWeb) {
		status := statusSource{s: s}
		if len(cfg.StatusPeers) > 0 {
			status.peers = newPeerStatus(cfg.StatusPeers, cfg.NSQLookupdHTTPAddrs)
		}
		deps := web.Deps{Store: s.store, Status: status, Pictures: web.NewPictures(s.blobs)}
		// The UI puts work in through the receiver's API: in memory when the receiver runs here,
		// else over HTTP at --receiver-url (without either, uploading is shown as unavailable).
		token := ""
		if len(cfg.APITokens) > 0 {
			token = cfg.APITokens[0]
		}
		switch {
		case cfg.Has(config.RoleReceiver):
			deps.Pipeline = web.NewInProcessReceiverClient(http.Handler(s.mux), token)
		case cfg.ReceiverURL != "":
			deps.Pipeline = web.NewReceiverClient(cfg.ReceiverURL, token, &http.Client{Timeout: 2 * time.Minute})
		}
		w, err := web.New(web.Options{
			CacheDir:     filepath.Join(cfg.DataDir, "thumbs"),
			AccessTokens: cfg.APITokens,
			SessionKey:   []byte(cfg.SessionKey),
			MaxPixels:    cfg.MaxImagePixels,
			// Examples taken from faces carry the version the recognizers described them with.
			DescriptorModel: face.ModelVersion,
			// The same decoding as the engine's (EXIF orientation applied), so boxes line up.
			Decode: func(r io.Reader) (image.Image, error) {
				img, _, err := imageio.Decode(r, s.limits())
				return img, err
			},
			Logger: s.log,
		}, deps)
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		w.Register(s.mux)
		s.web = w
	}
	return nil
}

// imageSource sends path images to the recognizer by reference (it shares the image volume)
// and images kept in blob storage as bytes.
func (s *Server) imageSource() processor.ImageSource {
	return func(ctx context.Context, img *store.Image) (*recognizerv1.Image, error) {
		if img.SourceKind == store.SourcePath || img.SourceKind == "" {
			return processor.PathSource(ctx, img)
		}
		if s.blobs == nil {
			return nil, fmt.Errorf("%w: %s image and no blob storage", processor.ErrBadSource, img.SourceKind)
		}
		data, err := s.blobs.ReadAll(ctx, img.Source, 2*maxEncodedImage)
		switch {
		case err == nil:
			return &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: data}}, nil
		case errorsIsAny(err, blob.ErrNotFound, blob.ErrForeign):
			return nil, fmt.Errorf("%w: %v", processor.ErrBadSource, err)
		default:
			return nil, err // storage unreachable: transient
		}
	}
}

// maxEncodedImage bounds an image read from blob storage for the recognizer (the receiver
// limits uploads well below this).
const maxEncodedImage = 32 << 20

// statusSource tells the web status page what only the running processes know: this one's
// roles, and those of the processes at --status-peers.
type statusSource struct {
	s     *Server
	peers *peerStatus // nil without --status-peers
}

func (src statusSource) Status(ctx context.Context) (web.StatusReport, error) {
	s := src.s
	var rep web.StatusReport
	if s.nsqd != nil {
		rep.QueueDepth, rep.QueueKnown = s.nsqd.Depth(), true
	}
	if s.breaker != nil {
		rep.Breaker = breakerLabel(s.breaker.State())
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
	if src.peers != nil {
		mergePeers(&rep, src.peers.read(ctx), s.localProcessing())
	} else {
		setProcessing(&rep, s.localProcessing())
	}
	return rep, nil
}
