package queue

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facecluster/facecluster/internal/metrics"
)

// The queue's metrics (dashboards, docs/pipeline.md and the status page read them by name).
const (
	// MetricDepth is what waits for processors in the embedded nsqd (Depth), read at scrape time.
	MetricDepth = metrics.Namespace + "_queue_depth"
	// MetricClusterDepth is what waits for processors in every nsqd nsqlookupd knows
	// (ClusterDepth): where nsqd is a separate program, processes report this one instead.
	MetricClusterDepth = metrics.Namespace + "_cluster_queue_depth"
	// MetricPublished counts image ids published to Topic.
	MetricPublished = metrics.Namespace + "_queue_published_total"
	// MetricPublishErrors counts failed publishes (the reconciler publishes those images again).
	MetricPublishErrors = metrics.Namespace + "_queue_publish_errors_total"
)

// RegisterMetrics registers MetricDepth with reg, read from Depth at scrape time.
func (n *NSQD) RegisterMetrics(reg prometheus.Registerer) error {
	_, err := metrics.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricDepth,
		Help: "Messages waiting in the processors' channel of the images topic (embedded nsqd)."},
		func() float64 { return float64(n.Depth()) }))
	if err != nil {
		return fmt.Errorf("queue: nsqd metrics: %w", err)
	}
	return nil
}

// RegisterMetrics makes the producer count its publishes (MetricPublished, MetricPublishErrors)
// in reg. Call it before publishing.
func (p *Producer) RegisterMetrics(reg prometheus.Registerer) error {
	published, err := metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: MetricPublished,
		Help: "Image ids published to the images topic."}))
	if err != nil {
		return fmt.Errorf("queue: producer metrics: %w", err)
	}
	failed, err := metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: MetricPublishErrors,
		Help: "Failed publishes (the reconciler republishes those images)."}))
	if err != nil {
		return fmt.Errorf("queue: producer metrics: %w", err)
	}
	p.published, p.failed = published, failed
	return nil
}

// RegisterMetrics registers MetricClusterDepth with reg, read through Read at scrape time; a
// scrape where the depth cannot be known (an nsqd did not answer) has no sample rather than a
// wrong one.
func (c *ClusterDepth) RegisterMetrics(reg prometheus.Registerer) error {
	_, err := metrics.Register(reg, &clusterDepthCollector{c: c, desc: prometheus.NewDesc(MetricClusterDepth,
		"Messages waiting for processors on the images topic, summed over every nsqd nsqlookupd knows (the same total in each process that reports it: aggregate with max, not sum).", nil, nil)})
	if err != nil {
		return fmt.Errorf("queue: cluster depth metric: %w", err)
	}
	return nil
}

type clusterDepthCollector struct {
	c    *ClusterDepth
	desc *prometheus.Desc
}

func (cc *clusterDepthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- cc.desc }

func (cc *clusterDepthCollector) Collect(ch chan<- prometheus.Metric) {
	if d, ok := cc.c.Read(context.Background()); ok {
		ch <- prometheus.MustNewConstMetric(cc.desc, prometheus.GaugeValue, float64(d))
	}
}
