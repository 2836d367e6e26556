package testutil

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Tests plan addresses and hand them to servers that bind them later, often in another process
// and seconds later on a loaded machine. A port the kernel hands out for ":0" lies in Linux's
// ephemeral range (32768–60999 by default), where any other program's ":0" listener or outgoing
// connection (another package's test, a MySQL client) may take it meanwhile. So tests pick ports
// below that range, where only programs that name a port bind — as internal/devcluster does.
const (
	plannedPortLow  = 20000
	plannedPortHigh = 32000
)

func freePort(t testing.TB) int {
	t.Helper()
	var err error
	for range 200 {
		port := plannedPortLow + rand.IntN(plannedPortHigh-plannedPortLow)
		var l net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("no free port in %d–%d: %v", plannedPortLow, plannedPortHigh, err)
	return 0
}
