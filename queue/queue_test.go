package queue_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/queue"
)

func startCluster(t *testing.T, dataDir string) (*queue.Lookupd, *queue.NSQD) {
	t.Helper()
	l, err := queue.StartLookupd(queue.LookupdOptions{TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	d, err := queue.StartNSQD(queue.NSQDOptions{
		DataDir: dataDir, TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", LookupdTCP: []string{l.TCPAddr()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, d
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPublishedIDsReachAConsumerFoundThroughLookupd(t *testing.T) {
	l, d := startCluster(t, t.TempDir())
	defer d.Close()
	p, err := queue.NewProducer(d.TCPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	// One single publish and one bulk publish larger than a batch.
	want := []int64{1}
	if err := p.Publish(ctx, 1); err != nil {
		t.Fatal(err)
	}
	bulk := make([]int64, 0, 12000)
	for i := int64(2); i < 12002; i++ {
		bulk = append(bulk, i)
	}
	if err := p.Publish(ctx, bulk...); err != nil {
		t.Fatal(err)
	}
	want = append(want, bulk...)
	// nsqd moves messages from the topic to the channel asynchronously: wait for the count.
	waitFor(t, "depth to count every message", func() bool { return d.Depth() == int64(len(want)) })

	var mu sync.Mutex
	var got []int64
	c, err := queue.NewConsumer(queue.ConsumerOptions{
		LookupdHTTPAddrs: []string{l.HTTPAddr()}, Concurrency: 8, LookupdPoll: 100 * time.Millisecond,
	}, func(m *nsq.Message) {
		msg, err := queue.Decode(m.Body)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, msg.ImageID)
		mu.Unlock()
		m.Finish()
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every id to arrive", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= len(want) })
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if len(got) != len(want) {
		t.Fatalf("received %d ids, want %d (each exactly once)", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("id %d = %d, want %d", i, got[i], want[i])
		}
	}
	waitFor(t, "depth to drop to 0", func() bool { return d.Depth() == 0 })
}

func TestUnansweredMessageIsRequeuedAndDelayedRequeueComesBack(t *testing.T) {
	_, d := startCluster(t, t.TempDir())
	defer d.Close()
	p, err := queue.NewProducer(d.TCPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Publish(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var deliveries []time.Time
	c, err := queue.NewConsumer(queue.ConsumerOptions{NSQDTCPAddrs: []string{d.TCPAddr()}, Concurrency: 1}, func(m *nsq.Message) {
		mu.Lock()
		n := len(deliveries)
		deliveries = append(deliveries, time.Now())
		mu.Unlock()
		switch n {
		case 0: // forget to answer: the consumer requeues it at once
		case 1:
			m.RequeueWithoutBackoff(300 * time.Millisecond)
		default:
			m.Finish()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	waitFor(t, "three deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(deliveries) == 3 })
	mu.Lock()
	gap := deliveries[2].Sub(deliveries[1])
	mu.Unlock()
	if gap < 250*time.Millisecond {
		t.Fatalf("delayed requeue came back after %s, want at least 300ms", gap)
	}
}

func TestQueuedMessagesSurviveAnNSQDRestart(t *testing.T) {
	dir := t.TempDir()
	addr := testutil.FreeAddr(t)
	d, err := queue.StartNSQD(queue.NSQDOptions{DataDir: dir, TCPAddr: addr, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := queue.NewProducer(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), 7, 8, 9); err != nil {
		t.Fatal(err)
	}
	p.Close()
	d.Close()

	d, err = queue.StartNSQD(queue.NSQDOptions{DataDir: dir, TCPAddr: addr, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.Depth(); got != 3 {
		t.Fatalf("depth after restart = %d, want the 3 queued ids", got)
	}
}

func TestDecodeRejectsBadMessages(t *testing.T) {
	for _, body := range []string{"", "{", `{"image_id":0}`, `{"image_id":-3}`, `"12"`} {
		if _, err := queue.Decode([]byte(body)); err == nil {
			t.Errorf("Decode(%q) succeeded", body)
		}
	}
	m, err := queue.Decode(queue.Encode(99))
	if err != nil || m.ImageID != 99 {
		t.Fatalf("round trip = %v, %v", m, err)
	}
}

func TestProducerReportsAnUnreachableNSQD(t *testing.T) {
	p, err := queue.NewProducer(testutil.FreeAddr(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Publish(context.Background(), 1); err == nil {
		t.Fatal("publish to a closed port succeeded")
	}
}

func TestNSQDTellsLookupdItsBroadcastAddress(t *testing.T) {
	l, err := queue.StartLookupd(queue.LookupdOptions{TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, err := queue.StartNSQD(queue.NSQDOptions{DataDir: t.TempDir(), TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		LookupdTCP: []string{l.TCPAddr()}, Broadcast: "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var got struct {
		Producers []struct {
			BroadcastAddress string `json:"broadcast_address"`
		} `json:"producers"`
	}
	waitFor(t, "nsqd to register the images topic", func() bool {
		resp, err := http.Get("http://" + l.HTTPAddr() + "/lookup?topic=" + queue.Topic)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&got) == nil && len(got.Producers) == 1
	})
	if got.Producers[0].BroadcastAddress != "10.1.2.3" {
		t.Fatalf("lookupd tells consumers %q, want the broadcast address 10.1.2.3", got.Producers[0].BroadcastAddress)
	}
}
