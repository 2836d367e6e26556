package breaker_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/facecluster/facecluster/internal/breaker"
)

// healthService starts a real gRPC server with the standard health service and returns the
// server-side switch and a probe that asks it over the network, like the processors do.
func healthService(t *testing.T) (*health.Server, func(context.Context) error) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)
	probe := func(ctx context.Context) error {
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			return errors.New("recognizer not serving: " + resp.Status.String())
		}
		return nil
	}
	return hs, probe
}

type transitions struct {
	mu  sync.Mutex
	got []string
}

func (tr *transitions) record(from, to breaker.State) {
	tr.mu.Lock()
	tr.got = append(tr.got, from.String()+"->"+to.String())
	tr.mu.Unlock()
}

func (tr *transitions) snapshot() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpensAfterThresholdProbesBacksOffAndCloses(t *testing.T) {
	hs, probe := healthService(t)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)

	var tr transitions
	b, err := breaker.New(breaker.Options{
		Name: "recognizer", Threshold: 5, CoolDown: 40 * time.Millisecond, MaxCoolDown: 100 * time.Millisecond,
		Probe: probe, OnStateChange: tr.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	down := errors.New("connection refused")
	for i := 1; i <= 4; i++ {
		b.Failure(down)
		if err := b.Allow(); err != nil {
			t.Fatalf("after %d failures the breaker refused: %v", i, err)
		}
	}
	b.Failure(down)
	err = b.Allow()
	var oe *breaker.OpenError
	if !errors.As(err, &oe) || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("after 5 failures Allow = %v, want an *OpenError", err)
	}
	if oe.RetryAfter <= 0 || oe.RetryAfter > 40*time.Millisecond+100*time.Millisecond {
		t.Fatalf("RetryAfter = %s, want about the 40ms cool-down", oe.RetryAfter)
	}

	// Failed probes double the cool-down up to the maximum: 40 → 80 → 100 → 100.
	waitFor(t, "cool-down to reach its maximum", func() bool { return b.CoolDown() == 100*time.Millisecond })
	if s := b.State(); s == breaker.Closed {
		t.Fatal("breaker closed while the recognizer is not serving")
	}

	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	waitFor(t, "breaker to close after a good probe", func() bool { return b.State() == breaker.Closed })
	if err := b.Allow(); err != nil {
		t.Fatalf("closed breaker refused: %v", err)
	}
	if b.CoolDown() != 40*time.Millisecond {
		t.Fatalf("cool-down after closing = %s, want it reset to 40ms", b.CoolDown())
	}

	// OnStateChange runs after the state changed, without locks: wait for it to be told too.
	waitFor(t, "the closing transition to be reported", func() bool {
		got := tr.snapshot()
		return len(got) > 0 && got[len(got)-1] == "probing->closed"
	})
	got := tr.snapshot()
	want := []string{"closed->open", "open->probing", "probing->open", "open->probing", "probing->open"}
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Fatalf("transitions = %v, want them to start with %v", got, want)
		}
	}
	if last := got[len(got)-1]; last != "probing->closed" {
		t.Fatalf("last transition = %q, want probing->closed (all: %v)", last, got)
	}
}

func TestSuccessResetsConsecutiveFailures(t *testing.T) {
	_, probe := healthService(t)
	b, err := breaker.New(breaker.Options{Threshold: 3, Probe: probe})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := 0; i < 10; i++ {
		b.Failure(errors.New("x"))
		b.Failure(errors.New("x"))
		b.Success()
	}
	if b.State() != breaker.Closed {
		t.Fatalf("state = %s, want closed: failures were never consecutive", b.State())
	}
}

func TestDoCountsOnlyDependencyFailures(t *testing.T) {
	_, probe := healthService(t)
	b, err := breaker.New(breaker.Options{Threshold: 2, Probe: probe})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	badInput := errors.New("not an image")
	isFailure := func(err error) bool { return !errors.Is(err, badInput) }
	for i := 0; i < 5; i++ {
		if err := b.Do(context.Background(), func(context.Context) error { return badInput }, isFailure); !errors.Is(err, badInput) {
			t.Fatalf("Do = %v, want the call's own error", err)
		}
	}
	if b.State() != breaker.Closed {
		t.Fatal("bad input opened the breaker")
	}
	unavailable := errors.New("unavailable")
	for i := 0; i < 2; i++ {
		_ = b.Do(context.Background(), func(context.Context) error { return unavailable }, isFailure)
	}
	called := false
	err = b.Do(context.Background(), func(context.Context) error { called = true; return nil }, isFailure)
	if !errors.Is(err, breaker.ErrOpen) || called {
		t.Fatalf("Do on an open breaker = %v (called %v), want ErrOpen without calling", err, called)
	}
}

func TestNewNeedsAProbe(t *testing.T) {
	if _, err := breaker.New(breaker.Options{}); err == nil {
		t.Fatal("New without a probe succeeded")
	}
}
