package recognizer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
	"github.com/facecluster/facecluster/recognizer"
)

// A recognizer added while processors run (a scale-up) gets traffic: the servers end
// connections after their maximum age, the client looks the name up again and balances over
// what it finds. The manual resolver stands in for DNS: it answers a new look-up with the
// current set of replicas.
func TestScaledUpReplicaGetsTraffic(t *testing.T) {
	st := openStore(t)
	const age = 300 * time.Millisecond
	a := startReplica(t, st, t.TempDir(), recognizer.ServerOptions(age)...)

	var mu sync.Mutex
	addrs := []resolver.Address{{Addr: a.addr}}
	r := manual.NewBuilderWithScheme("scaleup")
	r.InitialState(resolver.State{Addresses: addrs})
	r.ResolveNowCallback = func(resolver.ResolveNowOptions) {
		mu.Lock()
		state := resolver.State{Addresses: append([]resolver.Address(nil), addrs...)}
		mu.Unlock()
		go r.UpdateState(state) // not from inside the channel's own call
	}
	c, err := recognizer.Dial("scaleup:///recognizers", nil, grpc.WithResolvers(r))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	req := &recognizerv1.RecognizeRequest{Image: &recognizerv1.Image{Source: &recognizerv1.Image_Data{Data: blankPNG(t, 64, 64)}}}
	waitFor(t, "the first replica to serve", 10*time.Second, func() bool { return a.srv.Ready() == nil })
	if _, err := c.Recognize(ctx, req); err != nil {
		t.Fatal(err)
	}

	b := startReplica(t, st, t.TempDir(), recognizer.ServerOptions(age)...)
	waitFor(t, "the new replica to serve", 10*time.Second, func() bool { return b.srv.Ready() == nil })
	mu.Lock()
	addrs = append(addrs, resolver.Address{Addr: b.addr})
	mu.Unlock()

	waitFor(t, "the new replica to get requests", 15*time.Second, func() bool {
		if _, err := c.Recognize(ctx, req); err != nil {
			t.Fatalf("recognize during the scale-up: %v", err)
		}
		return b.calls.Load() > 0
	})
}
