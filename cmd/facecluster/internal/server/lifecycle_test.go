package server

import (
	"slices"
	"testing"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
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
		{[]config.Role{config.RoleReconciler, config.RoleRecognizer}, []string{"store", "producer", "cluster-queue-depth", "reconciler", "recognizer"}},
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
