package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/store"
)

// proc is one real `facecluster serve` process of a test.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	http   string
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
	err    error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// startProc runs `facecluster serve` with args and waits until its /readyz answers 200.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, http: testutil.FreeAddr(t), done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), append([]string{"serve", "--env-file", "", "--data-dir", t.TempDir(), "--http-addr", p.http}, args...)...)
	p.cmd.Env = append(os.Environ(), "FACECLUSTER_MODELS_DIR="+testutil.ModelsDir(t))
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		<-p.done
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + p.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited at start (%v):\n%s", name, p.err, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 90s:\n%s", name, p.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// terminate sends SIGTERM and checks a clean exit (status 0, "stopped" logged) within limit.
func (p *proc) terminate(limit time.Duration) {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(limit):
		p.t.Fatalf("%s still running %s after SIGTERM:\n%s", p.name, limit, p.logs())
	}
	if p.err != nil {
		p.t.Errorf("%s exited with %v after SIGTERM:\n%s", p.name, p.err, p.logs())
	}
	if l := p.logs(); !strings.Contains(l, `"msg":"shutting down"`) || !strings.Contains(l, `"msg":"stopped"`) {
		p.t.Errorf("%s did not log a graceful shutdown:\n%s", p.name, l)
	}
}

// TestProcessorKilledOrStoppedMidImageAsRealProcesses runs the roles as separate real processes
// against MariaDB, as on Kubernetes, and holds an image mid-recognition by freezing the
// recognizer (SIGSTOP). A processor killed with SIGKILL while it holds the image leaves it to
// the reconciler, which expires the lease and republishes it for another processor; a
// processor stopped with SIGTERM while it holds one gives it back at once (pending, message
// requeued). Every role then stops cleanly on SIGTERM.
func TestProcessorKilledOrStoppedMidImageAsRealProcesses(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	root := t.TempDir()
	photo, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), "sample6.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"killed.jpg", "stopped.jpg"} {
		if err := os.WriteFile(filepath.Join(root, name), photo, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := []string{"--db-driver", "mysql", "--db-dsn", dsn, "--image-root", root}
	lookupdHTTP := testutil.FreeAddr(t)
	hub := startProc(t, "hub", append(db, "--roles", "receiver,reconciler,nsqd,nsqlookupd",
		"--nsqd-tcp-addr", testutil.FreeAddr(t), "--nsqd-http-addr", testutil.FreeAddr(t),
		"--nsqlookupd-tcp-addrs", testutil.FreeAddr(t), "--nsqlookupd-http-addrs", lookupdHTTP,
		// Stale pending images are republished only after 5 minutes: what recovers the images
		// here is the lease expiring (SIGKILL) and the requeued message (SIGTERM).
		"--reconcile-interval", "500ms", "--pending-age", "5m")...)
	grpcAddr := testutil.FreeAddr(t)
	rec := startProc(t, "recognizer", append(db, "--roles", "recognizer", "--grpc-addr", grpcAddr, "--migrate=false")...)
	processorArgs := append(db, "--roles", "processor", "--recognizer-addr", grpcAddr, "--migrate=false",
		"--nsqlookupd-http-addrs", lookupdHTTP, "--nsqlookupd-poll", "1s",
		"--lease", "6s", "--recognize-timeout", "6s", "--shutdown-timeout", "2s")
	p1 := startProc(t, "processor-1", processorArgs...)

	st, err := store.Open(context.Background(), store.Options{Driver: "mysql", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	image := func(id int64) *store.Image {
		t.Helper()
		img, err := st.GetImage(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	post := func(path string) int64 {
		t.Helper()
		resp, err := http.Post("http://"+hub.http+"/image/post", "application/json", strings.NewReader(fmt.Sprintf(`{"path": %q}`, path)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ ID int64 }
		if resp.StatusCode != http.StatusAccepted || decodeJSON(resp, &out) != nil || out.ID == 0 {
			t.Fatalf("POST /image/post %s: %s", path, resp.Status)
		}
		return out.ID
	}
	waitImage := func(what string, id int64, within time.Duration, ok func(*store.Image) bool) *store.Image {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			img := image(id)
			if ok(img) {
				return img
			}
			if time.Now().After(deadline) {
				t.Fatalf("image %d: %s: not within %s (status %s, owner %q, attempts %d, %q)", id, what, within, img.Status, img.LeaseOwner, img.Attempts, img.LastError)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	pidOwner := func(p *proc) string { return fmt.Sprintf("-%d-", p.cmd.Process.Pid) }

	// SIGKILL mid-image.
	rec.cmd.Process.Signal(syscall.SIGSTOP)
	id := post("killed.jpg")
	waitImage("claimed by processor-1", id, 30*time.Second, func(img *store.Image) bool {
		return img.Status == store.StatusProcessing && strings.Contains(img.LeaseOwner, pidOwner(p1))
	})
	p1.cmd.Process.Kill()
	<-p1.done
	// Checked before processor-2 starts, which can take longer than the lease on a loaded machine.
	if img := image(id); img.Status != store.StatusProcessing || !strings.Contains(img.LeaseOwner, pidOwner(p1)) {
		t.Fatalf("after the kill the image is %s held by %q, want still processing under the dead processor's lease", img.Status, img.LeaseOwner)
	}
	rec.cmd.Process.Signal(syscall.SIGCONT)
	p2 := startProc(t, "processor-2", processorArgs...)
	img := waitImage("processed after the lease expired", id, 60*time.Second, func(img *store.Image) bool { return img.Status.Final() })
	if img.Status != store.StatusUnidentified || img.Attempts != 2 || len(img.Faces) == 0 {
		t.Fatalf("killed processor's image ended %s after %d attempts with %d faces (%q), want unidentified after 2 with faces",
			img.Status, img.Attempts, len(img.Faces), img.LastError)
	}

	// SIGTERM mid-image: given back at once, not left to the lease.
	rec.cmd.Process.Signal(syscall.SIGSTOP)
	id = post("stopped.jpg")
	waitImage("claimed by processor-2", id, 30*time.Second, func(img *store.Image) bool {
		return img.Status == store.StatusProcessing && strings.Contains(img.LeaseOwner, pidOwner(p2))
	})
	start := time.Now()
	p2.terminate(20 * time.Second)
	if img := image(id); img.Status != store.StatusPending || !strings.Contains(img.LastError, "shut down") {
		t.Fatalf("after SIGTERM the image is %s (%q), want pending, given back by the processor", img.Status, img.LastError)
	}
	t.Logf("processor-2 gave its image back and exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	rec.cmd.Process.Signal(syscall.SIGCONT)
	p3 := startProc(t, "processor-3", processorArgs...)
	img = waitImage("processed by processor-3", id, 60*time.Second, func(img *store.Image) bool { return img.Status.Final() })
	if img.Status != store.StatusUnidentified || len(img.Faces) == 0 {
		t.Fatalf("stopped processor's image ended %s with %d faces (%q)", img.Status, len(img.Faces), img.LastError)
	}

	// Every role stops cleanly on SIGTERM.
	p3.terminate(20 * time.Second)
	rec.terminate(20 * time.Second)
	hub.terminate(20 * time.Second)
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
