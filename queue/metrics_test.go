package queue_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/queue"
)

// TestDepthAndPublishMetrics: what a dashboard reads of the queue — the embedded nsqd's depth,
// the depth summed over the nsqds nsqlookupd knows, and the publishes and their failures.
func TestDepthAndPublishMetrics(t *testing.T) {
	l, d := startCluster(t, t.TempDir())
	defer d.Close()
	reg := prometheus.NewRegistry()
	if err := d.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	p, err := queue.NewProducer(d.TCPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	depth := queue.NewClusterDepth([]string{l.HTTPAddr()})
	if err := depth.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), 1, 2, 3, 4, 5, 6, 7); err != nil {
		t.Fatal(err)
	}
	// nsqd registers the topic with nsqlookupd asynchronously.
	waitFor(t, "nsqlookupd to know the nsqd's 7 messages", func() bool {
		n, ok := queue.NewClusterDepth([]string{l.HTTPAddr()}).Read(context.Background())
		return ok && n == 7
	})

	down, err := queue.NewProducer(testutil.FreeAddr(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	if err := down.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := down.Publish(context.Background(), 8); err == nil {
		t.Fatal("publishing to nowhere succeeded")
	}

	want := `
# HELP facecluster_cluster_queue_depth Messages waiting for processors on the images topic, summed over every nsqd nsqlookupd knows (the same total in each process that reports it: aggregate with max, not sum).
# TYPE facecluster_cluster_queue_depth gauge
facecluster_cluster_queue_depth 7
# HELP facecluster_queue_depth Messages waiting in the processors' channel of the images topic (embedded nsqd).
# TYPE facecluster_queue_depth gauge
facecluster_queue_depth 7
# HELP facecluster_queue_publish_errors_total Failed publishes (the reconciler republishes those images).
# TYPE facecluster_queue_publish_errors_total counter
facecluster_queue_publish_errors_total 1
# HELP facecluster_queue_published_total Image ids published to the images topic.
# TYPE facecluster_queue_published_total counter
facecluster_queue_published_total 7
`
	if err := promtest.GatherAndCompare(reg, strings.NewReader(want), queue.MetricClusterDepth, queue.MetricDepth,
		queue.MetricPublishErrors, queue.MetricPublished); err != nil {
		t.Error(err)
	}

	// Without any nsqlookupd answering, the depth is unknown, not 0.
	if n, ok := queue.NewClusterDepth([]string{testutil.FreeAddr(t)}).Read(context.Background()); ok {
		t.Errorf("with no nsqlookupd answering the depth reads %d, known", n)
	}
}
