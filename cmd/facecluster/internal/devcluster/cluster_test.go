package devcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/devcluster"
	"github.com/facecluster/facecluster/internal/testutil"
)

// buildFacecluster builds the product's binary with a version, as `make build` does.
func buildFacecluster(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "facecluster-"+version)
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/facecluster/facecluster/cmd/facecluster/internal/cli.version="+version, "-o", out, "./cmd/facecluster")
	cmd.Dir = testutil.RepoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// nsqdClients counts the processors consuming the images topic from an nsqd.
func nsqdClients(t *testing.T, httpAddr string) int {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/stats?format=json&topic=images")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var stats struct {
		Topics []struct {
			Channels []struct {
				ChannelName string `json:"channel_name"`
				Clients     []any  `json:"clients"`
			} `json:"channels"`
		} `json:"topics"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatalf("nsqd stats: %v", err)
	}
	n := 0
	for _, tp := range stats.Topics {
		for _, ch := range tp.Channels {
			if ch.ChannelName == "processors" {
				n += len(ch.Clients)
			}
		}
	}
	return n
}

func eventually(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func member(c *devcluster.Cluster, name string) devcluster.MemberStatus {
	for _, m := range c.Members() {
		if m.Name == name {
			return m
		}
	}
	return devcluster.MemberStatus{}
}

// postImage submits a demo photo's path through the proxy, the original's endpoint.
func postImage(t *testing.T, c *devcluster.Cluster, path string) int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"path": path})
	resp, err := http.Post(c.URL()+"/image/post", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ID    int64  `json:"id"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || out.ID == 0 {
		t.Fatalf("POST /image/post %s: %s %+v %v", path, resp.Status, out, err)
	}
	return out.ID
}

// imageStatus reads an image's status through the proxy.
func imageStatus(t *testing.T, c *devcluster.Cluster, id int64) (string, int) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/images/%d", c.URL(), id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var img struct {
		Status string `json:"status"`
		Faces  []any  `json:"faces"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&img); err != nil {
		t.Fatalf("GET image %d: %s: %v", id, resp.Status, err)
	}
	return img.Status, len(img.Faces)
}

// TestClusterSurvivesKillsAndRollsReceiversWithoutAFailedRequest runs the whole topology on real
// binaries and MariaDB, and checks what a user of the cluster sees while members are killed,
// restarted and the receivers rolled to another build: every request through the proxy answers,
// and photos posted through it are processed by processors and recognizers behind it.
func TestClusterSurvivesKillsAndRollsReceiversWithoutAFailedRequest(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	bin := t.TempDir()
	v1 := buildFacecluster(t, bin, "v1")
	v2 := buildFacecluster(t, bin, "v2")
	// The image volume: copies of the demo photos, twice, so that the second round is new images.
	images := t.TempDir()
	for i := 1; i <= 6; i++ {
		b, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), fmt.Sprintf("sample%d.jpg", i)))
		if err != nil {
			t.Fatal(err)
		}
		for _, round := range []string{"a", "b"} {
			if err := os.WriteFile(filepath.Join(images, fmt.Sprintf("%s%d.jpg", round, i)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := devcluster.Start(ctx, devcluster.Options{
		Binary: v1, Dir: t.TempDir(), MySQLDSN: dsn,
		ModelsDir: testutil.ModelsDir(t), ImageRoot: images,
		StopGrace: 20 * time.Second,
		Log:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	counts := map[string]int{}
	for _, m := range c.Members() {
		if m.State != devcluster.StateRunning || m.PID == 0 {
			t.Errorf("%s is %s after start", m.Name, m.State)
		}
		counts[m.Role]++
	}
	want := map[string]int{"nsqlookupd": 3, "nsqd": 3, "receiver": 2, "processor": 3, "recognizer": 2, "reconciler": 1, "web": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("members by role %v, want %v", counts, want)
	}
	// Every processor found every publisher's nsqd through the nsqlookupd.
	for _, q := range c.Members("nsqd") {
		eventually(t, q.Name+" has 3 processors", 30*time.Second, func() bool { return nsqdClients(t, q.HTTPAddr) == 3 })
	}

	// The web role, alone in its process, shows every other member's health on its status page.
	for _, m := range c.Members() {
		if m.Role == "nsqlookupd" || m.Role == "nsqd" || m.Role == "web" {
			continue
		}
		row := regexp.MustCompile(`<tr><td>` + regexp.QuoteMeta(m.Name) + `</td><td><span class="status [a-z_]+">healthy</span>`)
		eventually(t, "the status page shows "+m.Name+" healthy", 30*time.Second, func() bool {
			return row.MatchString(statusPage(t, c))
		})
	}

	// The queue depth, from the separate nsqd programs the nsqlookupd lists.
	depth := regexp.MustCompile(`Queue depth</div><div class="v">[0-9]+</div>`)
	eventually(t, "the status page shows the queue depth", 30*time.Second, func() bool { return depth.MatchString(statusPage(t, c)) })
	// The reconciler reports the same total on /metrics, read through the cluster's nsqlookupd.
	rec := member(c, "reconciler-0")
	eventually(t, "reconciler-0 reports the cluster's queue depth", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + rec.HTTPAddr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return regexp.MustCompile(`(?m)^facecluster_cluster_queue_depth [0-9]`).Match(b)
	})

	// Photos posted through the proxy go receiver → nsqd → processor → recognizer → database.
	var ids []int64
	for i := 1; i <= 6; i++ {
		ids = append(ids, postImage(t, c, filepath.Join(images, fmt.Sprintf("a%d.jpg", i))))
	}
	checkProcessed := func(ids []int64) {
		t.Helper()
		for _, id := range ids {
			eventually(t, fmt.Sprintf("image %d processed", id), 90*time.Second, func() bool {
				st, _ := imageStatus(t, c, id)
				return st != "pending" && st != "processing"
			})
			// No one is enrolled: every demo photo has faces, all unknown.
			if st, faces := imageStatus(t, c, id); st != "unidentified" || faces == 0 {
				t.Errorf("image %d: %s with %d faces, want unidentified with faces", id, st, faces)
			}
		}
	}
	checkProcessed(ids)

	// A client hammers the receivers' proxy for the whole test.
	var sent, failed atomic.Int64
	var lastFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(c.URL() + "/healthz")
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					lastFailure.Store(err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					lastFailure.Store(resp.Status)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}

	// A processor crashes and comes back: it reconnects to every nsqd.
	if err := c.Kill("processor-1"); err != nil {
		t.Fatal(err)
	}
	if s := member(c, "processor-1"); s.State != devcluster.StateStopped {
		t.Fatalf("processor-1 is %s after kill", s.State)
	}
	eventually(t, "nsqd-0 sees the killed processor go", 30*time.Second, func() bool { return nsqdClients(t, member(c, "nsqd-0").HTTPAddr) == 2 })
	killed := regexp.MustCompile(`<tr><td>processor-1</td><td><span class="status [a-z_]+">unhealthy</span></td><td>not answering at `)
	eventually(t, "the status page shows processor-1 down", 30*time.Second, func() bool { return killed.MatchString(statusPage(t, c)) })
	if err := c.StartMember(ctx, "processor-1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nsqd-0 has 3 processors again", 30*time.Second, func() bool { return nsqdClients(t, member(c, "nsqd-0").HTTPAddr) == 3 })

	// A receiver crashes: the proxy sends everything to the other one.
	if err := c.Kill("receiver-0"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := c.StartMember(ctx, "receiver-0"); err != nil {
		t.Fatal(err)
	}

	// Roll both receivers to v2, one at a time.
	before := map[string]int{}
	for _, m := range c.Members("receiver") {
		before[m.Name] = m.Starts
	}
	if err := c.RollReceivers(ctx, v2); err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Members("receiver") {
		if m.Binary != v2 || m.State != devcluster.StateRunning || m.Starts != before[m.Name]+1 {
			t.Errorf("after the roll %s runs %s (%s, %d starts), want %s restarted once", m.Name, m.Binary, m.State, m.Starts, v2)
		}
	}
	if out, err := exec.Command(member(c, "receiver-1").Binary, "version").Output(); err != nil || string(out) != "facecluster v2\n" {
		t.Errorf("rolled binary reports %q, %v", out, err)
	}
	// The rolled receivers and the restarted processor take new work.
	var more []int64
	for i := 1; i <= 6; i++ {
		more = append(more, postImage(t, c, filepath.Join(images, fmt.Sprintf("b%d.jpg", i))))
	}
	checkProcessed(more)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if sent.Load() < 100 || failed.Load() != 0 {
		t.Errorf("%d of %d requests through the proxy failed (last: %v), want none", failed.Load(), sent.Load(), lastFailure.Load())
	}
	t.Logf("%d requests through the proxy while members were killed and receivers rolled; %d failed", sent.Load(), failed.Load())

	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	for _, m := range c.Members() {
		if m.State == devcluster.StateRunning {
			t.Errorf("%s still running after Close", m.Name)
		}
	}
	if _, err := os.Stat(member(c, "receiver-0").Log); err != nil {
		t.Errorf("receiver log: %v", err)
	}
}

// statusPage is the web UI's status page.
func statusPage(t *testing.T, c *devcluster.Cluster) string {
	t.Helper()
	resp, err := http.Get(c.WebURL() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %s %v", resp.Status, err)
	}
	return string(b)
}
