package server_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/queue"
)

// TestQueueDepthMetricWhereNSQDIsASeparateProgram: on Kubernetes and compose nsqd runs beside
// the receivers as its own program, so no facecluster process embeds it and reports
// facecluster_queue_depth; the processors and the reconciler report
// facecluster_cluster_queue_depth, summed over the nsqds nsqlookupd knows.
func TestQueueDepthMetricWhereNSQDIsASeparateProgram(t *testing.T) {
	nsqdTCP, lookupTCP, lookupHTTP := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	root := t.TempDir()
	// The "sidecars": nsqlookupd and an nsqd registered with it, in a process of their own.
	serve(t, "--image-root", root, "--roles", "nsqlookupd,nsqd", "--nsqlookupd-tcp-addrs", lookupTCP,
		"--nsqlookupd-http-addrs", lookupHTTP, "--nsqd-tcp-addr", nsqdTCP)
	p, err := queue.NewProducer(nsqdTCP, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Publish(context.Background(), 1, 2, 3, 4, 5, 6, 7); err != nil {
		t.Fatal(err)
	}
	url, _ := serve(t, "--image-root", root, "--roles", "reconciler", "--nsqd-tcp-addr", nsqdTCP,
		"--nsqlookupd-http-addrs", lookupHTTP)
	want := regexp.MustCompile(`(?m)^facecluster_cluster_queue_depth 7$`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := metricsText(t, url)
		if want.MatchString(m) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reconciler's /metrics has no facecluster_cluster_queue_depth 7:\n%s", regexp.MustCompile(`(?m)^facecluster_queue.*$`).FindAllString(m, -1))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
