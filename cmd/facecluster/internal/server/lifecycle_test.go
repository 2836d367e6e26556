package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/internal/metrics"
)

// TestPlanStartsEachModuleAfterWhatItNeeds: for each --roles, the modules started are the roles
// named and the shared modules they need, each after its dependencies; a role that is not named
// runs elsewhere and is neither started nor waited for.
func TestPlanStartsEachModuleAfterWhatItNeeds(t *testing.T) {
	tests := []struct {
		roles []config.Role
		want  []string // exactly these modules, in an order the dependencies allow
	}{
		{config.AllRoles, []string{"store", "blobs", "nsqlookupd", "nsqd", "producer", "recognizer", "recognizer-client",
			"receiver", "cluster-queue-depth", "processor", "web", "reconciler"}},
		{[]config.Role{config.RoleProcessor}, []string{"store", "blobs", "recognizer-client", "cluster-queue-depth", "processor"}},
		{[]config.Role{config.RoleWeb}, []string{"store", "blobs", "web"}},
		{[]config.Role{config.RoleNSQD, config.RoleReceiver}, []string{"store", "blobs", "nsqd", "producer", "recognizer-client", "receiver"}},
		{[]config.Role{config.RoleNSQLookupd}, []string{"nsqlookupd"}},
		{[]config.Role{config.RoleReconciler, config.RoleRecognizer}, []string{"store", "blobs", "recognizer", "producer", "cluster-queue-depth", "reconciler"}},
	}
	for _, tt := range tests {
		got, err := plan(&config.Config{Roles: tt.roles})
		if err != nil {
			t.Fatalf("%v: %v", tt.roles, err)
		}
		if !slices.Equal(sorted(got), sorted(tt.want)) {
			t.Errorf("--roles %v starts %v, want %v", tt.roles, got, tt.want)
		}
		for i, name := range got {
			for _, d := range modules[name].deps {
				if j := slices.Index(got, d); j > i {
					t.Errorf("--roles %v starts %s (position %d) before its dependency %s (%d): %v", tt.roles, name, i, d, j, got)
				}
			}
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestModulesDeclareOnlyKnownDependencies: every dependency names a module, and every role has
// one.
func TestModulesDeclareOnlyKnownDependencies(t *testing.T) {
	for name, m := range modules {
		for _, d := range m.deps {
			if _, ok := modules[d]; !ok {
				t.Errorf("module %s depends on unknown %q", name, d)
			}
		}
	}
	for _, r := range config.AllRoles {
		if _, ok := modules[string(r)]; !ok {
			t.Errorf("role %s has no module", r)
		}
	}
}

// recordingService is a service that writes what happens to it into a shared journal, and can
// fail after starting as a listener that stops serving does.
type recordingService struct {
	name    string
	journal *[]string
	fail    chan error
}

func (r *recordingService) Start(context.Context) error {
	*r.journal = append(*r.journal, "start "+r.name)
	return nil
}

func (r *recordingService) Stop(context.Context) error {
	*r.journal = append(*r.journal, "stop "+r.name)
	return nil
}

func (r *recordingService) Ready(context.Context) error { return nil }

func (r *recordingService) Failed() <-chan error { return r.fail }

// TestRunStopsEverythingInReverseOrderWhenAServiceFails: a service whose loop fails ends Run
// with its error, named; the HTTP listener stops taking requests first, then every service stops
// once, in the reverse of the start order.
func TestRunStopsEverythingInReverseOrderWhenAServiceFails(t *testing.T) {
	reg := metrics.NewRegistry()
	hm, err := newHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		cfg: &config.Config{HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), registry: reg, mux: http.NewServeMux(), http: hm,
	}
	if err := s.listenHTTP(); err != nil {
		t.Fatal(err)
	}
	var journal []string
	for _, name := range []string{"store", "nsqd", "processor"} {
		svc := &recordingService{name: name, journal: &journal, fail: make(chan error, 1)}
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.started = append(s.started, startedService{name: name, check: name, svc: svc})
	}
	s.ready = true
	url := "http://" + s.HTTPAddr() + "/readyz"
	if resp, err := http.Get(url); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz before the failure: %v %v", resp, err)
	}

	s.started[1].svc.(*recordingService).fail <- errors.New("listener closed")
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nsqd: listener closed") {
		t.Errorf("Run returned %v, want the nsqd service's failure", err)
	}
	want := []string{"start store", "start nsqd", "start processor", "stop processor", "stop nsqd", "stop store"}
	if !slices.Equal(journal, want) {
		t.Errorf("journal %v, want %v", journal, want)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("the HTTP listener still answers after Run returned")
	}
}
