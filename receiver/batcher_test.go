package receiver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/store"
)

// A database that stops answering (here: another session holding a table lock on MySQL) must
// not hold a batch worker forever: the batch fails after its timeout with a clear error, and the
// worker records the next image once the database answers again.
func TestBatchGivesUpOnAHungDatabase(t *testing.T) {
	h := newHarness(t, store.DriverMySQL)
	ctx := context.Background()
	lock, err := h.st.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "LOCK TABLES images WRITE"); err != nil {
		t.Fatal(err)
	}
	b := newBatcher(h.rc, 1, 8, 500*time.Millisecond)
	t.Cleanup(b.close)

	// The request's own context has no deadline: only the batch timeout can end the wait.
	done := make(chan error, 1)
	go func() {
		_, err := b.submit(ctx, store.NewImage{Source: h.file("hung.jpg"), Kind: store.SourcePath})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "took longer than 500ms") {
			t.Fatalf("submit against a locked table: %v; want a timeout error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the batch is still waiting for the locked table")
	}

	if _, err := lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	sub, err := b.submit(ctx, store.NewImage{Source: h.file("after.jpg"), Kind: store.SourcePath})
	if err != nil || !sub.Created {
		t.Fatalf("submit after the lock is gone = %+v, %v; want a new image", sub, err)
	}
}
