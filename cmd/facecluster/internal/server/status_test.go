package server_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
)

// TestWebAloneShowsTheOtherRolesStatus runs the Kubernetes topology's status path: the web role
// in its own process reads the receiver's (with its nsqd), the recognizer's and the processor's
// /readyz and /metrics through --status-peers. The status page shows each one healthy and the
// breaker closed; with the recognizer stopped it shows the recognizer down with the reason, and
// once an image has failed to reach it, the processor's breaker open.
func TestWebAloneShowsTheOtherRolesStatus(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	root := t.TempDir()
	copyDemo(t, root, "sample1.jpg")
	copyDemo(t, root, "sample2.jpg")
	db := []string{"--db-driver", "mysql", "--db-dsn", dsn, "--image-root", root}
	nsqdTCP, grpcAddr := testutil.FreeAddr(t), testutil.FreeAddr(t)
	lookupTCP, lookupHTTP := testutil.FreeAddr(t), testutil.FreeAddr(t)

	serve(t, append(db, "--roles", "nsqlookupd", "--nsqlookupd-tcp-addrs", lookupTCP, "--nsqlookupd-http-addrs", lookupHTTP)...)
	receiverURL, _ := serve(t, append(db, "--roles", "nsqd,receiver", "--nsqd-tcp-addr", nsqdTCP, "--nsqlookupd-tcp-addrs", lookupTCP)...)
	recognizerURL, _, stopRecognizer := startServe(t, true, append(db, "--roles", "recognizer", "--grpc-addr", grpcAddr)...)
	processorURL, _ := serve(t, append(db, "--roles", "processor", "--recognizer-addr", grpcAddr,
		"--consume-nsqd-tcp-addrs", nsqdTCP, "--breaker-threshold", "1", "--breaker-cooldown", "30s", "--retry-delay", "100ms")...)
	webURL, _ := serve(t, append(db, "--roles", "web", "--status-peers",
		"receiver="+receiverURL+",recognizer="+recognizerURL+",processor="+processorURL)...)
	// A second web role that reads no receiver: its queue depth can only come from the nsqds
	// that nsqlookupd knows (as on Kubernetes, where nsqd is a separate program).
	lookupWebURL, _ := serve(t, append(db, "--roles", "web", "--status-peers", "processor="+processorURL,
		"--nsqlookupd-http-addrs", lookupHTTP)...)

	page := statusPage(t, webURL)
	for _, role := range []string{"receiver", "recognizer", "processor"} {
		if h := roleHealth(page, role); h != "healthy" {
			t.Errorf("role %s shown %q, want healthy; roles table:\n%s", role, h, rolesTable(page))
		}
	}
	if b := statValue(page, "Recognizer breaker"); b != "closed" {
		t.Errorf("breaker shown %q, want closed", b)
	}
	if p := statValue(page, "Processing p50 / p95"); p != "—" {
		t.Errorf("processing time shown %q before any image, want —", p)
	}
	if q := statValue(page, "Queue depth"); q != "0" {
		t.Errorf("queue depth shown %q, want 0 (read from the receiver's nsqd)", q)
	}
	if !strings.Contains(page, "database ok, nsqd ok, nsqd-publish ok") {
		t.Errorf("the receiver's checks are not listed:\n%s", rolesTable(page))
	}

	// One image processed: the processing time, from the processor's histogram.
	if code, sub := postJSON(t, receiverURL+"/image/post", map[string]string{"path": "sample1.jpg"}); code != http.StatusAccepted {
		t.Fatalf("POST /image/post = %d %v", code, sub)
	}
	processing := regexp.MustCompile(`^[0-9.]+m?s / [0-9.]+m?s$`)
	deadline := time.Now().Add(30 * time.Second)
	for !processing.MatchString(statValue(statusPage(t, webURL), "Processing p50 / p95")) {
		if time.Now().After(deadline) {
			t.Fatalf("processing time shown %q after an image was processed", statValue(statusPage(t, webURL), "Processing p50 / p95"))
		}
		time.Sleep(200 * time.Millisecond)
	}

	stopRecognizer()
	if code, sub := postJSON(t, receiverURL+"/image/post", map[string]string{"path": "sample2.jpg"}); code != http.StatusAccepted {
		t.Fatalf("POST /image/post = %d %v", code, sub)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		page = statusPage(t, webURL)
		down := roleHealth(page, "recognizer") == "unhealthy" &&
			strings.Contains(page, "not answering at "+recognizerURL+": connection refused")
		open := strings.HasPrefix(statValue(page, "Recognizer breaker"), "open")
		// The image waits, deferred, in the receiver's nsqd until the breaker lets it through.
		queued := statValue(page, "Queue depth") == "1" && statValue(statusPage(t, lookupWebURL), "Queue depth") == "1"
		if down && open && queued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after stopping the recognizer the page shows breaker %q, queue depth %q (through nsqlookupd %q) and roles:\n%s",
				statValue(page, "Recognizer breaker"), statValue(page, "Queue depth"), statValue(statusPage(t, lookupWebURL), "Queue depth"), rolesTable(page))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h := roleHealth(page, "receiver"); h != "healthy" {
		t.Errorf("receiver shown %q after the recognizer stopped, want healthy", h)
	}
}

func statusPage(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status = %d %v\n%s", resp.StatusCode, err, body)
	}
	return string(body)
}

// roleHealth is the health the page's roles table shows for a role ("" when absent).
func roleHealth(page, role string) string {
	re := regexp.MustCompile(`<tr><td>` + regexp.QuoteMeta(role) + `</td><td><span class="status [a-z_]+">([a-z]+)</span>`)
	if m := re.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// statValue is the value under a stat's label at the top of the page.
func statValue(page, label string) string {
	re := regexp.MustCompile(regexp.QuoteMeta(label) + `</div><div class="v">([^<]*)</div>`)
	if m := re.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

func rolesTable(page string) string {
	i := strings.Index(page, "<h2>Roles</h2>")
	j := strings.Index(page, "<h2>Recent failures</h2>")
	if i < 0 || j < i {
		return fmt.Sprintf("(no roles section in %d bytes)", len(page))
	}
	return page[i:j]
}
