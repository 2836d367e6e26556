package devcluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// backend is a stand-in receiver: a real HTTP server that echoes its name and the body.
func backend(t *testing.T, name string) (*Member, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", name, r.URL.Path, b)
	}))
	t.Cleanup(srv.Close)
	return &Member{Name: name, Role: "receiver", HTTPAddr: srv.Listener.Addr().String(), log: quietLog(), state: StateRunning}, srv
}

func TestProxyRoundRobinsAndSkipsAReceiverThatIsGone(t *testing.T) {
	a, _ := backend(t, "receiver-0")
	b, bSrv := backend(t, "receiver-1")
	p := newProxy(quietLog(), []*Member{a, b})
	p.setRotation(a.Name, true)
	p.setRotation(b.Name, true)
	front := httptest.NewServer(p)
	defer front.Close()

	post := func() string {
		t.Helper()
		resp, err := http.Post(front.URL+"/image/post", "application/json", strings.NewReader(`{"path":"x.jpg"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		return string(b)
	}
	seen := map[string]int{}
	for range 10 {
		got := post()
		name, rest, _ := strings.Cut(got, " ")
		if rest != `/image/post {"path":"x.jpg"}` {
			t.Fatalf("backend got %q, want the path and body unchanged", rest)
		}
		seen[name]++
	}
	if seen["receiver-0"] != 5 || seen["receiver-1"] != 5 {
		t.Fatalf("requests per receiver %v, want 5 and 5", seen)
	}

	// receiver-1 dies: its connections are refused, and every request still succeeds.
	bSrv.Close()
	for range 6 {
		if got := post(); !strings.HasPrefix(got, "receiver-0 ") {
			t.Fatalf("answer %q, want receiver-0's", got)
		}
	}
	if slices.ContainsFunc(p.rotation(), func(m *Member) bool { return m.Name == "receiver-1" }) {
		t.Error("a receiver refusing connections stayed in rotation")
	}

	// Nobody left: a clear 502, not a hang.
	p.setRotation(a.Name, false)
	resp, err := http.Get(front.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d with no receiver, want 502", resp.StatusCode)
	}
}

func TestNameServerAnswersEveryRecognizer(t *testing.T) {
	ips := []net.IP{recognizerIP(0), recognizerIP(1)}
	ns, err := startNameServer(context.Background(), ips)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.close()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, ns.addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := r.LookupHost(ctx, "recognizer.devcluster")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"127.0.0.20", "127.0.0.21"}; !slices.Equal(got, want) {
		t.Errorf("recognizer.devcluster = %v, want %v", got, want)
	}
	if _, err := r.LookupHost(ctx, "other.devcluster"); err == nil {
		t.Error("an unknown name resolved")
	}
	if want := "dns://" + ns.addr + "/recognizer.devcluster:9090"; ns.target("9090") != want {
		t.Errorf("target %q, want %q", ns.target("9090"), want)
	}
}

var nsqOnce struct {
	sync.Once
	dir string
	err error
}

// nsqBinaries builds the real nsqd and nsqlookupd once per test binary.
func nsqBinaries(t *testing.T) string {
	t.Helper()
	nsqOnce.Do(func() {
		dir, err := os.MkdirTemp("", "devcluster-nsq-")
		if err != nil {
			nsqOnce.err = err
			return
		}
		nsqOnce.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		nsqOnce.err = BuildNSQ(ctx, dir)
	})
	if nsqOnce.err != nil {
		t.Fatal(nsqOnce.err)
	}
	return nsqOnce.dir
}

func TestMemberStopsKillsAndRestartsARealNSQLookupd(t *testing.T) {
	bin := nsqBinaries(t)
	tcp, tcpHold, err := loopback()
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, httpHold, err := loopback()
	if err != nil {
		t.Fatal(err)
	}
	// The planned ports stay held until the member starts: start releases them.
	m := &Member{Name: "nsqlookupd-0", Role: "nsqlookupd", binary: bin + "/nsqlookupd",
		args: []string{"--tcp-address=" + tcp, "--http-address=" + httpAddr},
		dir:  t.TempDir(), readyURL: "http://" + httpAddr + "/ping", log: quietLog(), state: StateStopped,
		holds: []net.Listener{tcpHold, httpHold}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer m.kill()

	if err := m.start(ctx); err != nil {
		t.Fatal(err)
	}
	pid := m.status().PID
	if !m.ready(ctx) || pid == 0 {
		t.Fatal("not ready after start")
	}
	if err := m.kill(); err != nil {
		t.Fatal(err)
	}
	if m.ready(ctx) || m.status().State != StateStopped {
		t.Fatalf("still up after kill: %+v", m.status())
	}
	if err := m.start(ctx); err != nil {
		t.Fatal(err)
	}
	if s := m.status(); s.PID == pid || s.Starts != 2 || !m.ready(ctx) {
		t.Fatalf("restart did not start a new process: %+v", s)
	}
	if err := m.stop(10 * time.Second); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if m.ready(ctx) {
		t.Fatal("still answering after stop")
	}

	// A crash is told apart from a stop.
	if err := m.start(ctx); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	proc := m.cmd.Process
	done := m.done
	m.mu.Unlock()
	_ = proc.Kill()
	<-done
	if s := m.status(); s.State != StateExited || s.LastExit == "" {
		t.Fatalf("after a crash: %+v, want exited with the reason", s)
	}
}

func TestMemberThatCannotStartSaysWhy(t *testing.T) {
	bin := nsqBinaries(t)
	m := &Member{Name: "nsqlookupd-bad", Role: "nsqlookupd", binary: bin + "/nsqlookupd",
		args: []string{"--http-address=not-an-address"}, dir: t.TempDir(), readyURL: "http://127.0.0.1:1/ping",
		log: quietLog(), state: StateStopped}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.start(ctx)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), m.logPath()) {
		t.Fatalf("err = %v, want an exit before ready naming the log", err)
	}
	// The error quotes what the process said: a test's directory is gone when one reads it.
	if !strings.Contains(err.Error(), "last lines of the log:") || !strings.Contains(err.Error(), "FATAL") {
		t.Fatalf("err = %v, want the log's last lines with nsqlookupd's reason", err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if nsqOnce.dir != "" {
		os.RemoveAll(nsqOnce.dir)
	}
	os.Exit(code)
}
