package testutil

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// A test that plans an address and has a server (often another process) bind it later must not
// take the port from the kernel's ephemeral range (32768–60999 on Linux): until the server binds
// it, the kernel may hand the same port to any outgoing connection or ":0" listener on the
// machine (a MySQL client, another test package running in parallel), and the server then fails
// with "address already in use". Planned ports come from below that range instead, where only
// programs that name a port bind; from below cmd/facecluster/internal/devcluster's range (20000–31999), whose
// clusters run beside other packages' tests; and never twice in one test binary (a test plans
// several addresses before any server binds them).
const (
	plannedPortLow  = 10000
	plannedPortHigh = 20000
)

var planned struct {
	sync.Mutex
	ports map[int]bool // handed out by this process: never twice
}

func freePort(t testing.TB) int {
	t.Helper()
	planned.Lock()
	defer planned.Unlock()
	if planned.ports == nil {
		planned.ports = map[int]bool{}
	}
	var err error
	for range 500 {
		port := plannedPortLow + rand.IntN(plannedPortHigh-plannedPortLow)
		if planned.ports[port] {
			continue
		}
		var l net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			l.Close()
			planned.ports[port] = true
			return port
		}
	}
	t.Fatalf("no free port in %d–%d: %v", plannedPortLow, plannedPortHigh, err)
	return 0
}
