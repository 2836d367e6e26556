package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
)

// service is the one lifecycle of every part of a serve process: each role, and what roles
// share (the store, the queue producer, the recognizer client, upload storage).
type service interface {
	// Start brings the service up and returns once it serves (its loops keep running);
	// ctx bounds only the start.
	Start(ctx context.Context) error
	// Stop ends it, letting the work in flight finish until ctx is done. It is called once,
	// after Start succeeded, in the reverse of the start order.
	Stop(ctx context.Context) error
	// Ready says whether it should get traffic now (/readyz: every service ready).
	Ready(ctx context.Context) error
}

// A failingService reports a failure of its running loops (a listener that stops serving);
// Run then stops the process.
type failingService interface {
	Failed() <-chan error
}

func failures(svc service) <-chan error {
	if f, ok := svc.(failingService); ok {
		return f.Failed()
	}
	return nil // never fails once started
}

type startedService struct {
	name  string
	check string // its /readyz check name, "" for none
	svc   service
}

// module declares a service: the modules it needs started before it, its /readyz check name,
// and how it is made. In the style of Loki's module manager: roles are the modules --roles
// names; a dependency on another role orders the two when both run here (else that role runs
// in another process), and a dependency on a shared module pulls that module in.
type module struct {
	deps  []string
	check string
	// new makes the service from what the server knows (Start does the work); nil, nil when
	// this configuration does not need it (the recognizer client without a recognizer address).
	new func(s *Server) (service, error)
}

// The shared modules; the others are named by their role.
const (
	modStore             = "store"
	modBlobs             = "blobs"
	modProducer          = "producer"
	modRecognizerClient  = "recognizer-client"
	modClusterQueueDepth = "cluster-queue-depth"
)

var (
	roleLookupd    = string(config.RoleNSQLookupd)
	roleNSQD       = string(config.RoleNSQD)
	roleRecognizer = string(config.RoleRecognizer)
	roleReceiver   = string(config.RoleReceiver)
	roleWeb        = string(config.RoleWeb)
	roleProcessor  = string(config.RoleProcessor)
	roleReconciler = string(config.RoleReconciler)
)

// modules is the dependency map; roles.go makes the services.
var modules = map[string]module{
	roleLookupd: {check: roleLookupd, new: newLookupdService},
	// nsqd registers with the nsqlookupd of this process, so it starts after it.
	roleNSQD:             {deps: []string{roleLookupd}, check: roleNSQD, new: newNSQDService},
	modStore:             {check: "database", new: newStoreService},
	modBlobs:             {new: newBlobService},
	roleRecognizer:       {deps: []string{modStore, modBlobs}, check: roleRecognizer, new: newRecognizerService},
	modRecognizerClient:  {deps: []string{roleRecognizer}, new: newRecognizerClientService},
	modProducer:          {deps: []string{roleNSQD}, check: "nsqd-publish", new: newProducerService},
	modClusterQueueDepth: {deps: []string{roleNSQD}, new: newClusterQueueDepthService},
	roleReceiver:         {deps: []string{modStore, modBlobs, modProducer, modRecognizerClient}, check: roleReceiver, new: newReceiverService},
	// The web UI submits work through the receiver's routes when the receiver runs here.
	roleWeb:        {deps: []string{modStore, modBlobs, roleReceiver}, check: roleWeb, new: newWebService},
	roleProcessor:  {deps: []string{modStore, modBlobs, modRecognizerClient, roleNSQD, roleLookupd, modClusterQueueDepth}, check: roleProcessor, new: newProcessorService},
	roleReconciler: {deps: []string{modStore, modProducer, modClusterQueueDepth}, check: roleReconciler, new: newReconcilerService},
}

// isRole reports whether name is a role (run only when --roles names it) rather than a
// shared module (run when a role needs it).
func isRole(name string) bool { return slices.Contains(config.AllRoles, config.Role(name)) }

// plan lists the modules cfg's roles need, each after its dependencies. The order is
// deterministic: roles are visited in config.AllRoles' order.
func plan(cfg *config.Config) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("server: module dependency cycle %v", append(path, name))
		case 2:
			return nil
		}
		m, ok := modules[name]
		if !ok {
			return fmt.Errorf("server: no module %q", name)
		}
		state[name] = 1
		for _, d := range m.deps {
			if isRole(d) && !cfg.Has(config.Role(d)) {
				continue // runs in another process, if at all
			}
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, r := range config.AllRoles {
		if cfg.Has(r) {
			if err := visit(string(r), nil); err != nil {
				return nil, err
			}
		}
	}
	return order, nil
}
