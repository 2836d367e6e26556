package reconciler_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/reconciler"
	"github.com/facecluster/facecluster/store"
)

// harness: a real store, a real nsqd and a consumer that records the ids published.
type harness struct {
	t   *testing.T
	st  *store.Store
	pub *queue.Producer

	mu  sync.Mutex
	got []int64
}

func newHarness(t *testing.T, driver string) *harness {
	t.Helper()
	ctx := context.Background()
	opts := store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(t.TempDir(), "fc.db")}
	if driver == "mysql" {
		opts = store.Options{Driver: store.DriverMySQL, DSN: testutil.MySQLDSN(t)}
	}
	st, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := queue.StartNSQD(queue.NSQDOptions{DataDir: t.TempDir(), TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	p, err := queue.NewProducer(d.TCPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	h := &harness{t: t, st: st, pub: p}
	c, err := queue.NewConsumer(queue.ConsumerOptions{NSQDTCPAddrs: []string{d.TCPAddr()}, Concurrency: 4}, func(m *nsq.Message) {
		msg, err := queue.Decode(m.Body)
		if err != nil {
			t.Error(err)
		}
		h.mu.Lock()
		h.got = append(h.got, msg.ImageID)
		h.mu.Unlock()
		m.Finish()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	return h
}

var drivers = []string{"sqlite", "mysql"}

// forEachDriver runs one test body as a subtest per SQL driver, so every integration test
// checks SQLite and real MySQL alike without duplicating its body.
func forEachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	t.Helper()
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) { test(t, driver) })
	}
}

func (h *harness) insert(n int) []int64 {
	h.t.Helper()
	var imgs []store.NewImage
	for i := 0; i < n; i++ {
		imgs = append(imgs, store.NewImage{Source: filepath.Join("/images", h.t.Name(), string(rune('a'+i))+".jpg")})
	}
	sub, err := h.st.SubmitImages(context.Background(), imgs)
	if err != nil {
		h.t.Fatal(err)
	}
	var ids []int64
	for _, s := range sub {
		ids = append(ids, s.ID)
	}
	return ids
}

// published waits until the consumer has seen every id in want (and returns all it saw).
func (h *harness) published(want []int64) []int64 {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		got := slices.Clone(h.got)
		h.mu.Unlock()
		all := true
		for _, id := range want {
			if !slices.Contains(got, id) {
				all = false
			}
		}
		if all {
			return got
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("published %v, want %v among them", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) status(id int64) store.Status {
	img, err := h.st.GetImage(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return img.Status
}

func TestPassRepublishesStalePendingAndExpiredLeases(t *testing.T) {
	for _, driver := range []string{"sqlite", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			h := newHarness(t, driver)
			ctx := context.Background()
			ids := h.insert(3)
			stale, leased, exhausted := ids[0], ids[1], ids[2]

			// leased: a processor claimed it and died; exhausted: same, on its last attempt.
			// The durations leave seconds of margin for a loaded machine: the live lease must
			// still be live when claimed again, and the second pass below must come before the
			// images the first one touched are stale again (PendingAge after the first pass).
			const lease = 2 * time.Second
			for _, id := range []int64{leased, exhausted} {
				if ok, err := h.st.ClaimImage(ctx, id, "dead", lease); err != nil || !ok {
					t.Fatalf("claim %d: %v %v", id, ok, err)
				}
			}
			if ok, _ := h.st.ClaimImage(ctx, exhausted, "dead", time.Millisecond); ok {
				t.Fatal("a live lease was claimed again")
			}
			time.Sleep(lease + 200*time.Millisecond)
			// exhausted reaches its second attempt: the limit below.
			if ok, err := h.st.ClaimImage(ctx, exhausted, "dead-again", 400*time.Millisecond); err != nil || !ok {
				t.Fatalf("second claim of %d: %v %v", exhausted, ok, err)
			}
			time.Sleep(600 * time.Millisecond)
			// stale has been pending for more than 2.8 s.
			r, err := reconciler.New(reconciler.Options{Store: h.st, Publisher: h.pub, PendingAge: 2500 * time.Millisecond, Interval: time.Hour, MaxAttempts: 2})
			if err != nil {
				t.Fatal(err)
			}

			rep, err := r.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rep.Expired, []int64{leased}) || !slices.Equal(rep.ExpiredFail, []int64{exhausted}) {
				t.Fatalf("expired %v / failed %v, want [%d] / [%d]", rep.Expired, rep.ExpiredFail, leased, exhausted)
			}
			if !slices.Contains(rep.Republished, stale) {
				t.Fatalf("republished %v, want %d (pending for 2.8 s) among them", rep.Republished, stale)
			}
			// A second pass right away has nothing to do: republished images were touched.
			rep, err = r.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Expired)+len(rep.ExpiredFail)+len(rep.Republished) != 0 {
				t.Fatalf("second pass did %+v, want nothing", rep)
			}

			h.published([]int64{leased, stale})
			if st := h.status(leased); st != store.StatusPending {
				t.Errorf("expired lease left the image %s, want pending", st)
			}
			if st := h.status(exhausted); st != store.StatusFailed {
				t.Errorf("expired lease on the last attempt left the image %s, want failed", st)
			}
		})
	}
}

func TestRetryFailedOnce(t *testing.T) { forEachDriver(t, testRetryFailedOnce) }

func testRetryFailedOnce(t *testing.T, driver string) {
	h := newHarness(t, driver)
	ctx := context.Background()
	ids := h.insert(3)
	for _, id := range ids[:2] {
		if ok, err := h.st.ClaimImage(ctx, id, "p", time.Minute); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if st, err := h.st.RecordFailure(ctx, id, "p", "recognizer: not an image", true, 5); err != nil || st != store.StatusFailed {
			t.Fatal(st, err)
		}
	}
	got, err := reconciler.Retry(ctx, h.st, h.pub, []store.Status{store.StatusFailed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Ids are assigned in the store's insert order, not the input order: compare as sets.
	want := slices.Sorted(slices.Values(ids[:2]))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("retried %v, want %v", got, want)
	}
	h.published(ids[:2])
	for _, id := range ids[:2] {
		if st := h.status(id); st != store.StatusPending {
			t.Fatalf("retried image is %s, want pending", st)
		}
	}
	// Retrying pending images (they stay pending) walks every one of them once, batch after
	// batch, and terminates.
	got, err = reconciler.Retry(ctx, h.st, h.pub, []store.Status{store.StatusPending}, 2)
	if want := slices.Sorted(slices.Values(ids)); err != nil || !slices.Equal(got, want) {
		t.Fatalf("retry pending = %v, %v; want all of %v once", got, err, want)
	}
}
