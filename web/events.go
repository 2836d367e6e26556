package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/facecluster/facecluster/store"
)

// imageEvent tells open pages that an image changed.
type imageEvent struct {
	ID          int64       `json:"id"`
	Status      string      `json:"status"`
	StatusLabel string      `json:"status_label"`
	Reason      string      `json:"reason,omitempty"`
	People      []personRef `json:"people"`
	Created     bool        `json:"created"` // new since the page was drawn: lists may prepend it
}

// broker polls the store for changed images while anyone listens and fans the changes out.
// Polling (rather than in-process notifications) is what lets the web role run apart from the
// processors, against MySQL, with no extra channel between them.
type broker struct {
	st    *store.Store
	every time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	subs    map[chan imageEvent]struct{}
	cancel  context.CancelFunc
	stopped bool
	wg      sync.WaitGroup
}

func newBroker(st *store.Store, every time.Duration, log *slog.Logger) *broker {
	return &broker{st: st, every: every, log: log, subs: map[chan imageEvent]struct{}{}}
}

// subscribe registers a listener, starting the poller for the first one.
func (b *broker) subscribe() (chan imageEvent, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return nil, false
	}
	ch := make(chan imageEvent, 256)
	b.subs[ch] = struct{}{}
	if b.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		b.cancel = cancel
		b.wg.Add(1)
		go b.poll(ctx)
	}
	return ch, true
}

// unsubscribe removes a listener, stopping the poller after the last one.
func (b *broker) unsubscribe(ch chan imageEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, ch)
	if len(b.subs) == 0 && b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
}

func (b *broker) close() {
	b.mu.Lock()
	b.stopped = true
	if b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// clockSlack re-reads changes this far back: updated_at is written by other processes whose
// clocks may lag ours a little; seen changes are remembered so nothing is sent twice.
const clockSlack = 5 * time.Second

func (b *broker) poll(ctx context.Context) {
	defer b.wg.Done()
	t := time.NewTicker(b.every)
	defer t.Stop()
	start := time.Now()
	since := start.Add(-clockSlack)
	seen := map[int64]version{} // what was announced per image
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Pages of changes: more than a page within the slack window (a busy pipeline) must not
		// keep re-reading the same first page.
		from, after := since.Add(-clockSlack), int64(0)
		for range maxPollPages {
			changes, err := b.st.ImagesChangedSince(ctx, from, after, pollPage)
			if err != nil {
				if ctx.Err() == nil {
					b.log.WarnContext(ctx, "live updates: poll the store", "err", err)
				}
				break
			}
			b.announce(ctx, changes, seen, &since, start)
			if len(changes) < pollPage {
				break
			}
			from, after = changes[len(changes)-1].UpdatedAt, changes[len(changes)-1].ID
		}
		for id, v := range seen {
			if v.at.Before(since.Add(-3 * clockSlack)) {
				delete(seen, id)
			}
		}
	}
}

// pollPage changes are read per query, at most maxPollPages queries per poll.
const (
	pollPage     = 500
	maxPollPages = 20
)

// version is what was announced of an image: its updated_at and status. The status matters
// because updated_at has millisecond resolution and a claim and its outcome can share one.
type version struct {
	at     time.Time
	status store.Status
}

// announce publishes the changes not announced yet, advancing since.
func (b *broker) announce(ctx context.Context, changes []store.ImageChange, seen map[int64]version, since *time.Time, start time.Time) {
	for _, c := range changes {
		v := version{c.UpdatedAt, c.Status}
		if prev, ok := seen[c.ID]; ok && (prev == v || prev.at.After(v.at)) {
			continue
		}
		ev, err := b.event(ctx, c, start)
		if err != nil {
			continue // deleted meanwhile, or the store hiccuped: the next poll tries again
		}
		seen[c.ID] = v
		if c.UpdatedAt.After(*since) {
			*since = c.UpdatedAt
		}
		b.publish(ev)
	}
}

func (b *broker) event(ctx context.Context, c store.ImageChange, start time.Time) (imageEvent, error) {
	img, err := b.st.GetImage(ctx, c.ID)
	if err != nil {
		return imageEvent{}, err
	}
	v := newImageView(img)
	return imageEvent{
		ID: img.ID, Status: string(img.Status), StatusLabel: statusLabel(img.Status), Reason: img.LastError,
		People: v.People, Created: img.CreatedAt.After(start.Add(-clockSlack)),
	}, nil
}

func (b *broker) publish(ev imageEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- ev:
		default: // a stalled browser misses updates rather than stalling everyone
		}
	}
}

// eventStream serves server-sent events: "image" events with imageEvent JSON.
func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) {
	// An event stream never goes idle, so http.Server.Shutdown would wait for it until its
	// deadline: end the streams as soon as the server that carries them starts shutting down,
	// whoever owns it.
	if hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
		if _, seen := s.shutdownHooked.LoadOrStore(hs, true); !seen {
			hs.RegisterOnShutdown(func() { s.Close() })
		}
	}
	rc := http.NewResponseController(w)
	ch, ok := s.events.subscribe()
	if !ok {
		http.Error(w, "the server is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.events.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n\n")
	_ = rc.Flush()
	keepAlive := time.NewTicker(25 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-keepAlive.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case ev := <-ch:
			data, _ := json.Marshal(ev)
			fmt.Fprintf(w, "event: image\ndata: %s\n\n", data)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
