package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/store"
)

// TestServeRunsAndStopsOnSIGTERM runs the real binary as `make run` does and stops it the way
// Kubernetes and Ctrl-C do.
func TestServeRunsAndStopsOnSIGTERM(t *testing.T) {
	root := t.TempDir()
	photo, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), "sample6.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "sample6.jpg"), photo, 0o644)
	httpAddr := testutil.FreeAddr(t)
	dataDir := t.TempDir()
	cmd := exec.Command(binary(t), "serve", "--env-file", "", "--data-dir", dataDir, "--image-root", root,
		"--http-addr", httpAddr, "--grpc-addr", testutil.FreeAddr(t),
		"--nsqd-tcp-addr", testutil.FreeAddr(t), "--nsqd-http-addr", testutil.FreeAddr(t),
		"--nsqlookupd-tcp-addrs", testutil.FreeAddr(t), "--nsqlookupd-http-addrs", testutil.FreeAddr(t))
	cmd.Env = append(os.Environ(), "FACECLUSTER_MODELS_DIR="+testutil.ModelsDir(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()

	url := "http://" + httpAddr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 60s:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Post(url+"/image/post", "application/json", strings.NewReader(`{"path": "sample6.jpg"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /image/post = %d", resp.StatusCode)
	}

	// SIGTERM right away: the image in flight is finished or given back, and the process exits 0.
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("serve still running 40s after SIGTERM:\n%s", stderr.String())
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"facecluster serving"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("errors logged during a clean run:\n%s", logs)
	}
	// The image in flight was finished or given back, never left processing under a lease.
	st, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: filepath.Join(dataDir, "facecluster.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	img, err := st.GetImage(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if img.Status == store.StatusProcessing {
		t.Errorf("after SIGTERM the image is still processing (held by %q), want final or given back (pending)", img.LeaseOwner)
	}
	t.Logf("after SIGTERM the image is %s", img.Status)
}

func TestServeRefusesBadSettings(t *testing.T) {
	r := run(t, "serve", "--env-file", "", "--data-dir", t.TempDir(), "--roles", "receiver,chef")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `unknown role "chef"`) {
		t.Fatalf("exit %d, stderr %q; want a usage error naming the role", r.code, r.stderr)
	}
}
