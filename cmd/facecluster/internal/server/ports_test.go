package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/pflag"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/cmd/facecluster/internal/server"
	"github.com/facecluster/facecluster/internal/testutil"
)

// The listeners of the one-process mode that are private to the process, by setting.
var privateListeners = []string{"nsqd-tcp-addr", "nsqd-http-addr", "nsqlookupd-tcp-addrs", "nsqlookupd-http-addrs", "grpc-addr"}

// occupy makes sure nothing else can listen on addr for the rest of the test: it listens there
// itself, or finds it already taken by another program on this machine (as good for the test).
func occupy(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		t.Cleanup(func() { l.Close() })
	case errors.Is(err, syscall.EADDRINUSE):
		t.Logf("%s is already taken by another program", addr)
	default:
		t.Fatalf("cannot occupy %s: %v", addr, err)
	}
}

// defaultAddr is a setting's default address, read from the flags (the first of a list).
func defaultAddr(t *testing.T, flag string) string {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.Register(fs, serveGroups)
	f := fs.Lookup(flag)
	if f == nil {
		t.Fatalf("no flag --%s", flag)
	}
	return strings.Split(strings.Trim(f.DefValue, "[]"), ",")[0]
}

// TestOneProcessServeStartsWhenTheDefaultPortsAreTaken: `make run` (serve with every role and
// the default addresses) starts and becomes ready while another program holds every default
// port of the embedded nsqd, nsqlookupd and gRPC (4150, 4151, 4160, 4161, 9090): those are
// private to the process, so it takes free ones.
func TestOneProcessServeStartsWhenTheDefaultPortsAreTaken(t *testing.T) {
	defaults := map[string]string{}
	for _, flag := range privateListeners {
		defaults[flag] = defaultAddr(t, flag)
		occupy(t, defaults[flag])
	}
	url, srv, _ := startServeOver(t, true, testFlags(t), "--image-root", t.TempDir())
	r := getJSON(t, url+"/readyz")
	checks, _ := r["checks"].(map[string]any)
	for _, c := range []string{"nsqlookupd", "nsqd", "recognizer", "processor", "nsqd-publish"} {
		if checks[c] != "ok" {
			t.Errorf("/readyz check %s = %v, want ok (all: %v)", c, checks[c], checks)
		}
	}
	if got := srv.GRPCAddr(); got == defaults["grpc-addr"] || got == "" {
		t.Errorf("gRPC listens on %q with its default %s taken", got, defaults["grpc-addr"])
	}
}

// TestTakenAddressesGiveTheSettingToChange: an address the user chose is used as given: when
// another program holds it, serve stops with a sentence naming the setting (flag and
// environment variable) to change, for the HTTP address as for the others.
func TestTakenAddressesGiveTheSettingToChange(t *testing.T) {
	taken := testutil.FreeAddr(t)
	occupy(t, taken)
	tests := []struct {
		flag string
		args []string
		want []string
	}{
		{"http-addr", []string{"--roles", "nsqlookupd"}, []string{"--http-addr", "FACECLUSTER_HTTP_ADDR", taken, "taken"}},
		{"nsqd-tcp-addr", []string{"--roles", "all", "--image-root", t.TempDir()}, []string{"--nsqd-tcp-addr", taken}},
		{"grpc-addr", []string{"--roles", "recognizer", "--image-root", t.TempDir()}, []string{"--grpc-addr", "FACECLUSTER_GRPC_ADDR", taken}},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			cfg := config.Register(fs, serveGroups)
			args := append(testFlags(t), privatePortFlags...)
			args = append(args, tt.args...)
			args = append(args, "--"+tt.flag, taken) // given last, it wins
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Load(func(string) (string, bool) { return "", false }); err != nil {
				t.Fatal(err)
			}
			srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				cancelled, cancel := context.WithCancel(context.Background())
				cancel()
				srv.Run(cancelled)
				t.Fatalf("serve started with --%s %s taken", tt.flag, taken)
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error does not name %q: %v", w, err)
				}
			}
		})
	}
}
