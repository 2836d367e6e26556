package server

import (
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/web"
)

// TestMergePeersSummarisesBreakersAndQueues: several processors' breakers show as the worst
// state with how many are in it; queue depths of several nsqds add up.
func TestMergePeersSummarisesBreakersAndQueues(t *testing.T) {
	proc := func(st breaker.State) peerReading {
		return peerReading{processor: true, breaker: st, breakerKnown: true}
	}
	queue := func(n int64) peerReading { return peerReading{queueDepth: n, queueKnown: true} }
	tests := []struct {
		name      string
		local     string
		readings  []peerReading
		breaker   string
		depth     int64
		depthKnow bool
	}{
		{"nothing known", "", []peerReading{{}}, "", 0, false},
		{"one closed", "", []peerReading{proc(breaker.Closed)}, "closed", 0, false},
		{"all closed", "", []peerReading{proc(breaker.Closed), proc(breaker.Closed)}, "closed", 0, false},
		{"one of three open", "", []peerReading{proc(breaker.Closed), proc(breaker.Open), proc(breaker.Closed)}, "open on 1 of 3 processors", 0, false},
		{"probing beats closed", "", []peerReading{proc(breaker.Probing), proc(breaker.Closed)}, "half-open on 1 of 2 processors", 0, false},
		{"local open counts", "open", []peerReading{proc(breaker.Open), proc(breaker.Closed)}, "open on 2 of 3 processors", 0, false},
		{"queues add up", "", []peerReading{queue(3), queue(4), {}}, "", 7, true},
	}
	// nsqlookupd's count covers every nsqd, embedded ones too: it replaces the gauges' sum.
	rep := web.StatusReport{QueueDepth: 2, QueueKnown: true}
	mergePeers(&rep, peerSnapshot{readings: []peerReading{queue(3)}, depth: 9, depthKnown: true}, latencyHistogram{})
	if rep.QueueDepth != 9 || !rep.QueueKnown {
		t.Errorf("with nsqlookupd's depth 9 the page shows %d (known %v)", rep.QueueDepth, rep.QueueKnown)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := web.StatusReport{Breaker: tt.local}
			mergePeers(&rep, peerSnapshot{readings: tt.readings}, latencyHistogram{})
			if rep.Breaker != tt.breaker || rep.QueueDepth != tt.depth || rep.QueueKnown != tt.depthKnow {
				t.Errorf("breaker %q depth %d (known %v), want %q %d (%v)", rep.Breaker, rep.QueueDepth, rep.QueueKnown, tt.breaker, tt.depth, tt.depthKnow)
			}
			if len(rep.Roles) != len(tt.readings) {
				t.Errorf("%d roles listed, want %d", len(rep.Roles), len(tt.readings))
			}
		})
	}
}

// TestProcessingQuantilesFromHistograms: quantiles interpolate inside their bucket, as
// Prometheus's histogram_quantile does, over the sum of several processors' histograms.
func TestProcessingQuantilesFromHistograms(t *testing.T) {
	bounds := []float64{0.1, 0.5, 1}
	var h latencyHistogram
	h.add(latencyHistogram{bounds: bounds, counts: []uint64{0, 6, 6}, total: 6})
	h.add(latencyHistogram{bounds: bounds, counts: []uint64{0, 4, 4}, total: 4})
	h.add(latencyHistogram{bounds: []float64{1, 2}, counts: []uint64{9, 9}, total: 9}) // other bounds: left out
	if h.total != 10 {
		t.Fatalf("summed %d observations, want 10", h.total)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 300 * time.Millisecond}, {0.95, 480 * time.Millisecond}} {
		if got := h.quantile(tt.q).Round(time.Millisecond); got != tt.want {
			t.Errorf("q%.2f = %s, want %s", tt.q, got, tt.want)
		}
	}
	var rep web.StatusReport
	setProcessing(&rep, h)
	if !rep.ProcessingKnown || rep.ProcessingP50 != 300*time.Millisecond {
		t.Errorf("report %+v", rep)
	}
}
