package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/pflag"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/cmd/facecluster/internal/server"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/store"
)

// gate is a TCP proxy to the MySQL server that hangs up on every connection until it is opened,
// like a database that is still starting.
type gate struct {
	lis  net.Listener
	open atomic.Bool
	wg   sync.WaitGroup
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{lis: lis}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			if !g.open.Load() {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { lis.Close(); g.wg.Wait() })
	return g
}

// dsnVia is dsn with the server address replaced by addr.
func dsnVia(t *testing.T, dsn, addr string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = addr
	return cfg.FormatDSN()
}

func waitConfig(t *testing.T, args ...string) *config.Config {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg := config.Register(fs, serveGroups)
	base := []string{"--env-file", "", "--data-dir", t.TempDir(), "--image-root", t.TempDir(), "--grpc-addr", "127.0.0.1:0",
		"--nsqd-tcp-addr", "127.0.0.1:0", "--nsqd-http-addr", "127.0.0.1:0",
		"--nsqlookupd-tcp-addrs", "127.0.0.1:0", "--nsqlookupd-http-addrs", "127.0.0.1:0", "--db-driver", "mysql"}
	if err := fs.Parse(append(base, args...)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Load(func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readyz(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]any `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Checks
}

// TestServeWaitsForTheDatabaseAndItsSchema is a first Kubernetes deploy: the roles start
// before MySQL answers and before the migration Job has run. serve waits (alive, not ready),
// then starts by itself once both are there.
func TestServeWaitsForTheDatabaseAndItsSchema(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	real, _ := mysql.ParseDSN(dsn)
	g := newGate(t, real.Addr)
	httpAddr := testutil.FreeAddr(t)
	cfg := waitConfig(t, "--roles", "nsqlookupd,nsqd,receiver,reconciler", "--http-addr", httpAddr,
		"--db-dsn", dsnVia(t, dsn, g.lis.Addr().String()), "--migrate=false", "--db-wait", "2m")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		srv *server.Server
		err error
	}
	started := make(chan result, 1)
	go func() {
		srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		started <- result{srv, err}
	}()
	url := "http://" + httpAddr

	eventuallyTrue(t, "the process answers /healthz while the database is down", 20*time.Second, func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	var checks map[string]any
	eventuallyTrue(t, "/readyz says it waits for the database", 10*time.Second, func() bool {
		var code int
		code, checks = readyz(t, url)
		s, _ := checks["startup"].(string)
		return code == http.StatusServiceUnavailable && strings.Contains(s, "waiting for the database:")
	})
	// The receiver's routes answer 503 with a reason, not 404, while it starts.
	code, body := postJSON(t, url+"/image/post", map[string]string{"path": "x.jpg"})
	if code != http.StatusServiceUnavailable || !strings.Contains(body["error"].(string), "starting") {
		t.Errorf("POST /image/post while starting = %d %v, want 503 starting", code, body)
	}

	// MySQL comes up; the schema is not there yet.
	g.open.Store(true)
	eventuallyTrue(t, "/readyz says it waits for the schema", 20*time.Second, func() bool {
		_, checks = readyz(t, url)
		s, _ := checks["startup"].(string)
		return strings.Contains(s, "waiting for the database schema:") && strings.Contains(s, "facecluster migrate")
	})
	select {
	case r := <-started:
		t.Fatalf("serve started before the schema was migrated: %v", r.err)
	default:
	}

	// The migration Job runs.
	st, err := store.Open(context.Background(), store.Options{Driver: "mysql", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var r result
	select {
	case r = <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start within 30s of the migration")
	}
	if r.err != nil {
		t.Fatalf("serve: %v", r.err)
	}
	done := make(chan error, 1)
	go func() { done <- r.srv.Run(ctx) }()
	eventuallyTrue(t, "/readyz 200 once started", 20*time.Second, func() bool {
		code, checks = readyz(t, url)
		return code == http.StatusOK
	})
	if _, ok := checks["startup"]; ok {
		t.Errorf("/readyz still lists the startup check: %v", checks)
	}
	if code, body := postJSON(t, url+"/image/post", map[string]string{"path": "missing.jpg"}); code != http.StatusBadRequest && code != http.StatusNotFound && code != http.StatusUnprocessableEntity {
		t.Errorf("POST /image/post after start = %d %v, want the receiver's own answer", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestServeGivesUpOnTheDatabaseAfterDBWait: the wait is bounded, and credentials the server
// refuses are not waited for at all.
func TestServeGivesUpOnTheDatabaseAfterDBWait(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	real, _ := mysql.ParseDSN(dsn)
	g := newGate(t, real.Addr) // never opened
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	start := time.Now()
	cfg := waitConfig(t, "--roles", "reconciler,nsqd,nsqlookupd", "--http-addr", "127.0.0.1:0",
		"--db-dsn", dsnVia(t, dsn, g.lis.Addr().String()), "--db-wait", "1500ms")
	_, err := server.New(context.Background(), cfg, log)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "--db-wait") || !strings.Contains(err.Error(), "the database not ready") {
		t.Fatalf("serve against a database that never answers: %v, want an error naming --db-wait", err)
	}
	if took < time.Second || took > 10*time.Second {
		t.Errorf("gave up after %s, want about --db-wait 1.5s", took)
	}

	bad, _ := mysql.ParseDSN(dsn)
	bad.User, bad.Passwd = "facecluster_no_such_user", "wrong"
	start = time.Now()
	cfg = waitConfig(t, "--roles", "reconciler,nsqd,nsqlookupd", "--http-addr", "127.0.0.1:0",
		"--db-dsn", bad.FormatDSN(), "--db-wait", "1m")
	_, err = server.New(context.Background(), cfg, log)
	if err == nil || !strings.Contains(err.Error(), "Access denied") || time.Since(start) > 10*time.Second {
		t.Fatalf("serve with refused credentials: %v after %s, want Access denied at once", err, time.Since(start))
	}
}

func eventuallyTrue(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
