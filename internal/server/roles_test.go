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
