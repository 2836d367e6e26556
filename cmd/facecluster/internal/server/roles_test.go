package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
)

// TestEachRoleRunsAloneAgainstMySQL runs the production topology as separate processes would:
// nsqlookupd; a receiver with its own nsqd (the sidecar pattern); a recognizer; a processor that
// finds the nsqd through nsqlookupd and the recognizer by address; a reconciler; all on one
// MySQL database. A posted photo ends processed with the enrolled person.
func TestEachRoleRunsAloneAgainstMySQL(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	root := t.TempDir()
	copyDemo(t, root, "sample1.jpg")
	db := []string{"--db-driver", "mysql", "--db-dsn", dsn, "--image-root", root}
	lookupTCP, lookupHTTP := testutil.FreeAddr(t), testutil.FreeAddr(t)
	nsqdTCP, nsqdHTTP := testutil.FreeAddr(t), testutil.FreeAddr(t)
	grpcAddr := testutil.FreeAddr(t)
	queue := []string{"--nsqlookupd-tcp-addrs", lookupTCP, "--nsqlookupd-http-addrs", lookupHTTP,
		"--nsqd-tcp-addr", nsqdTCP, "--nsqd-http-addr", nsqdHTTP}
	with := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	serve(t, with(db, queue, []string{"--roles", "nsqlookupd"})...)
	receiverURL, _ := serve(t, with(db, queue, []string{"--roles", "nsqd,receiver"})...)
	serve(t, with(db, []string{"--roles", "recognizer", "--grpc-addr", grpcAddr, "--known-people", knownFolder(t)})...)
	serve(t, with(db, []string{"--roles", "processor", "--recognizer-addr", grpcAddr,
		"--nsqlookupd-http-addrs", lookupHTTP})...)
	serve(t, with(db, queue, []string{"--roles", "reconciler"})...)

	start := time.Now()
	code, sub := postJSON(t, receiverURL+"/image/post", map[string]string{"path": "sample1.jpg"})
	if code != http.StatusAccepted {
		t.Fatalf("POST /image/post = %d %v", code, sub)
	}
	id := int64(sub["id"].(float64))
	for {
		img := getJSON(t, fmt.Sprintf("%s/api/v1/images/%d", receiverURL, id))
		if st := img["status"]; st != "pending" && st != "processing" {
			faces, _ := img["faces"].([]any)
			var known []string
			for _, f := range faces {
				if fm := f.(map[string]any); fm["known"] == true {
					known = append(known, fmt.Sprint(fm["person"].(map[string]any)["name"]))
				}
			}
			if st != "processed" || strings.Join(known, ",") != "carol" {
				t.Fatalf("image ended %v (%v) with known faces %v, want processed with carol", st, img["reason"], known)
			}
			t.Logf("processed across five role processes in %s", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("image still %v after 60s", img["status"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPublishFailureIsRecoveredByTheReconciler: the receiver's nsqd is down when a photo is
// posted. The row is committed (202, pending) and the publish fails; once nsqd is back, the
// reconciler publishes the image again and it is processed.
func TestPublishFailureIsRecoveredByTheReconciler(t *testing.T) {
	root := t.TempDir()
	copyDemo(t, root, "sample1.jpg")
	dsn := testutil.MySQLDSN(t)
	lookupTCP, lookupHTTP := testutil.FreeAddr(t), testutil.FreeAddr(t)
	nsqdTCP, nsqdHTTP := testutil.FreeAddr(t), testutil.FreeAddr(t)
	common := []string{"--db-driver", "mysql", "--db-dsn", dsn, "--image-root", root,
		"--nsqlookupd-tcp-addrs", lookupTCP, "--nsqlookupd-http-addrs", lookupHTTP, "--nsqd-tcp-addr", nsqdTCP, "--nsqd-http-addr", nsqdHTTP}

	// Receiver, recognizer, processor and reconciler; nsqd and nsqlookupd are not running yet.
	url, _ := serveWith(t, false, append(common, "--roles", "receiver,recognizer,processor,reconciler",
		"--reconcile-interval", "200ms", "--pending-age", "300ms", "--nsqlookupd-poll", "200ms")...)
	code, sub := postJSON(t, url+"/image/post", map[string]string{"path": "sample1.jpg"})
	if code != http.StatusAccepted || sub["status"] != "pending" {
		t.Fatalf("POST with nsqd down = %d %v, want 202 pending (the row is committed first)", code, sub)
	}
	id := int64(sub["id"].(float64))
	time.Sleep(500 * time.Millisecond)
	if img := getJSON(t, fmt.Sprintf("%s/api/v1/images/%d", url, id)); img["status"] != "pending" {
		t.Fatalf("image is %v while the queue is down, want pending", img["status"])
	}

	// The queue comes back: the reconciler republishes, the processor finds nsqd through nsqlookupd.
	serve(t, append(common, "--roles", "nsqlookupd,nsqd")...)
	start := time.Now()
	for {
		img := getJSON(t, fmt.Sprintf("%s/api/v1/images/%d", url, id))
		if st := img["status"]; st != "pending" && st != "processing" {
			if st != "unidentified" {
				t.Fatalf("image ended %v (%v), want unidentified", st, img["reason"])
			}
			t.Logf("recovered %s after the queue came back", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("image still %v 60s after the queue came back", img["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := metricsText(t, url)
	if strings.Contains(m, "facecluster_queue_publish_errors_total 0") || !strings.Contains(m, `facecluster_reconciler_republished_total{reason="stale_pending"}`) {
		t.Errorf("metrics do not show the failed publish and the republish:\n%s", grepLines(m, "publish"))
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
