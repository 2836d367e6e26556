package devcluster

import (
	"net"
	"testing"
)

// Every address the plan hands out is distinct, and stays bound by the cluster until its member
// starts: a member that finds its port taken (by another member of this cluster, or a member of
// another dev cluster on the machine) exits before it is ready. With ports picked at random and
// only checked free, the default cluster's 21 ports collided about once in 60 starts.
func TestPlannedAddressesAreDistinct(t *testing.T) {
	o := Options{Dir: t.TempDir(), Binary: "/bin/true", NSQBinDir: "/nonexistent", Processors: 300, Receivers: 20, Log: quietLog()}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{opts: o, log: o.Log, paused: map[string]bool{}}
	if err := c.plan(t.Context()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, m := range c.members {
		for _, a := range []string{m.HTTPAddr, m.TCPAddr, m.GRPCAddr} {
			if a == "" {
				continue
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			if other, ok := seen[a]; ok {
				t.Errorf("%s and %s were both given %s", other, m.Name, a)
			}
			seen[a] = m.Name
			if l, err := net.Listen("tcp", a); err == nil {
				l.Close()
				t.Errorf("%s's planned address %s is not held before it starts", m.Name, a)
			}
		}
	}
	c.Close()
	for a := range seen {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s still held after Close: %v", a, err)
			continue
		}
		l.Close()
	}
	t.Logf("%d addresses planned", len(seen))
}
