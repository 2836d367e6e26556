package server

import (
	"testing"

	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/clusterinfo"
	"github.com/facecluster/facecluster/web"
)

// TestMergePeersSummarisesBreakersAndQueues: several processors' breakers show as the worst
// state with how many are in it; queue depths of several nsqds add up.
func TestMergePeersSummarisesBreakersAndQueues(t *testing.T) {
	proc := func(st breaker.State) clusterinfo.PeerStatus {
		return clusterinfo.PeerStatus{Processor: true, Breaker: st, BreakerKnown: true}
	}
	queue := func(n int64) clusterinfo.PeerStatus { return clusterinfo.PeerStatus{QueueDepth: n, QueueKnown: true} }
	tests := []struct {
		name      string
		local     string
		readings  []clusterinfo.PeerStatus
		breaker   string
		depth     int64
		depthKnow bool
	}{
		{"nothing known", "", []clusterinfo.PeerStatus{{}}, "", 0, false},
		{"one closed", "", []clusterinfo.PeerStatus{proc(breaker.Closed)}, "closed", 0, false},
		{"all closed", "", []clusterinfo.PeerStatus{proc(breaker.Closed), proc(breaker.Closed)}, "closed", 0, false},
		{"one of three open", "", []clusterinfo.PeerStatus{proc(breaker.Closed), proc(breaker.Open), proc(breaker.Closed)}, "open on 1 of 3 processors", 0, false},
		{"probing beats closed", "", []clusterinfo.PeerStatus{proc(breaker.Probing), proc(breaker.Closed)}, "half-open on 1 of 2 processors", 0, false},
		{"local open counts", "open", []clusterinfo.PeerStatus{proc(breaker.Open), proc(breaker.Closed)}, "open on 2 of 3 processors", 0, false},
		{"queues add up", "", []clusterinfo.PeerStatus{queue(3), queue(4), {}}, "", 7, true},
	}
	// nsqlookupd's count covers every nsqd, embedded ones too: it replaces the gauges' sum.
	rep := web.StatusReport{QueueDepth: 2, QueueKnown: true}
	mergePeers(&rep, clusterinfo.Snapshot{Peers: []clusterinfo.PeerStatus{queue(3)}, QueueDepth: 9, QueueKnown: true}, clusterinfo.Histogram{})
	if rep.QueueDepth != 9 || !rep.QueueKnown {
		t.Errorf("with nsqlookupd's depth 9 the page shows %d (known %v)", rep.QueueDepth, rep.QueueKnown)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := web.StatusReport{Breaker: tt.local}
			mergePeers(&rep, clusterinfo.Snapshot{Peers: tt.readings}, clusterinfo.Histogram{})
			if rep.Breaker != tt.breaker || rep.QueueDepth != tt.depth || rep.QueueKnown != tt.depthKnow {
				t.Errorf("breaker %q depth %d (known %v), want %q %d (%v)", rep.Breaker, rep.QueueDepth, rep.QueueKnown, tt.breaker, tt.depth, tt.depthKnow)
			}
			if len(rep.Roles) != len(tt.readings) {
				t.Errorf("%d roles listed, want %d", len(rep.Roles), len(tt.readings))
			}
		})
	}
}
