package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/processor"
	"github.com/facecluster/facecluster/receiver"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/reconciler"
)

var update = flag.Bool("update", false, "rewrite the generated table in docs/config.md")

func load(t *testing.T, groups config.Group, args []string, env map[string]string) (*config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c := config.Register(fs, groups)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return c, c.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

const serve = config.GroupDB | config.GroupQueue | config.GroupServe | config.GroupEngine | config.GroupKnown | config.GroupRecognize

func TestDefaultsAreTheProductOnOneMachine(t *testing.T) {
	dir := t.TempDir()
	c, err := load(t, serve, []string{"--data-dir", dir, "--env-file", ""}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Roles) != len(config.AllRoles) {
		t.Fatalf("roles = %v, want all of %v", c.Roles, config.AllRoles)
	}
	if c.DBDriver != "sqlite" || c.DBDSN != filepath.Join(dir, "facecluster.db") {
		t.Fatalf("database = %s %s, want sqlite under the data dir", c.DBDriver, c.DBDSN)
	}
	if c.HTTPAddr != ":8080" || c.RecognizerAddr != "127.0.0.1:9090" {
		t.Fatalf("http %q recognizer %q", c.HTTPAddr, c.RecognizerAddr)
	}
	if !strings.HasPrefix(c.BlobURL, "file://") || !strings.HasSuffix(c.BlobURL, "/blobs") {
		t.Fatalf("blob URL %q, want file://<data-dir>/blobs", c.BlobURL)
	}
	if !filepath.IsAbs(c.ImageRoot) {
		t.Fatalf("image root %q not made absolute", c.ImageRoot)
	}
	if c.KnownPeople != "" {
		t.Fatalf("known people %q: the default folder does not exist here and must be skipped", c.KnownPeople)
	}
}

func TestPrecedenceFlagOverEnvOverDotEnv(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "settings.env")
	os.WriteFile(envFile, []byte("FACECLUSTER_MAX_ATTEMPTS=7\nFACECLUSTER_LEASE=5m\nFACECLUSTER_HTTP_ADDR=:1111\n"), 0o644)
	c, err := load(t, serve,
		[]string{"--data-dir", dir, "--env-file", envFile, "--http-addr", ":3333"},
		map[string]string{"FACECLUSTER_LEASE": "3m", "FACECLUSTER_HTTP_ADDR": ":2222", "FACECLUSTER_ROLES": "receiver,web", "FACECLUSTER_RECOGNIZER_ADDR": "dns:///recognizer:9090"})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":3333" {
		t.Errorf("http-addr = %s, want the flag's :3333", c.HTTPAddr)
	}
	if c.Lease != 3*time.Minute {
		t.Errorf("lease = %s, want the environment's 3m", c.Lease)
	}
	if c.MaxAttempts != 7 {
		t.Errorf("max-attempts = %d, want the .env file's 7", c.MaxAttempts)
	}
	if len(c.Roles) != 2 || !c.Has(config.RoleReceiver) || !c.Has(config.RoleWeb) || c.Has(config.RoleProcessor) {
		t.Errorf("roles = %v, want receiver and web", c.Roles)
	}
}

func TestBadSettingsGetClearErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	badEnv := filepath.Join(dir, "bad.env")
	os.WriteFile(badEnv, []byte("FACECLUSTER_NO_SUCH_THING=1\n"), 0o644)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown role", []string{"--roles", "receiver,cook"}, nil, `--roles: unknown role "cook"`},
		{"driver", []string{"--db-driver", "postgres"}, nil, `--db-driver "postgres": want sqlite or mysql`},
		{"mysql without dsn", []string{"--db-driver", "mysql"}, nil, "--db-dsn is required with --db-driver=mysql"},
		{"bad address", []string{"--nsqd-tcp-addr", "localhost"}, nil, `--nsqd-tcp-addr "localhost": want host:port`},
		{"image root missing", []string{"--image-root", filepath.Join(dir, "nope")}, nil, "--image-root"},
		{"image root is a file", []string{"--image-root", file}, nil, "is not a directory"},
		{"known people missing", []string{"--known-people", filepath.Join(dir, "nope")}, nil, "--known-people"},
		{"env not a number", nil, map[string]string{"FACECLUSTER_MAX_ATTEMPTS": "many"}, `environment variable FACECLUSTER_MAX_ATTEMPTS="many"`},
		{"negative duration", []string{"--lease", "-1s"}, nil, "--lease must be positive"},
		{"slow gallery poll", []string{"--gallery-poll", "3s"}, nil, "--gallery-poll 3s: at most 1s"},
		{"short token", []string{"--api-tokens", "abc"}, nil, "at least 16 characters"},
		{"lone processor without recognizer", []string{"--roles", "processor"}, nil, "--recognizer-addr is required"},
		{"unknown .env key", []string{"--env-file", badEnv}, nil, "FACECLUSTER_NO_SUCH_THING in " + badEnv + ": no such setting"},
		{"missing explicit env file", []string{"--env-file", filepath.Join(dir, "none.env")}, nil, "--env-file"},
		{"log level", []string{"--log-level", "loud"}, nil, `--log-level "loud"`},
		{"receiver url", []string{"--receiver-url", "receiver:8080"}, nil, `--receiver-url "receiver:8080": want http://host:port`},
		{"status peer without name", []string{"--status-peers", "http://processor:8080"}, nil, `--status-peers: "http://processor:8080": want name=http://host:port`},
		{"status peer without scheme", []string{"--status-peers", "processor=processor:8080"}, nil, `--status-peers: "processor=processor:8080": want name=http://host:port`},
		{"known people from env missing", nil, map[string]string{"FACECLUSTER_KNOWN_PEOPLE": filepath.Join(dir, "nope")}, "--known-people"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data-dir", dir}, tt.args...)
			_, err := load(t, serve, args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCommandsTakeOnlyTheirSettings(t *testing.T) {
	fs := pflag.NewFlagSet("migrate", pflag.ContinueOnError)
	config.Register(fs, config.GroupDB)
	if fs.Lookup("roles") != nil || fs.Lookup("data-dir") == nil || fs.Lookup("db-dsn") == nil {
		t.Fatal("migrate's flag set is wrong")
	}
}

// TestDocsTableMatchesTheFlags keeps docs/config.md true to the code.
func TestDocsTableMatchesTheFlags(t *testing.T) {
	path := filepath.Join(testutil.RepoRoot(t), "docs", "config.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	begin := strings.Index(text, config.TableBegin)
	end := strings.Index(text, config.TableEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s lacks the generated-table markers", path)
	}
	want := config.MarkdownTable()
	got := text[begin+len(config.TableBegin)+1 : end]
	if got == want {
		return
	}
	if *update {
		text = text[:begin+len(config.TableBegin)+1] + want + text[end:]
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("docs/config.md is out of date with the flags: run go test ./internal/config -update\n--- want\n%s--- got\n%s", want, got)
}

// TestTheRecognizerOwnsTheMatchThreshold: --match-threshold is the recognizer's setting; a
// client role (the processor) sends it only when it was given to that process, else 0 ("use
// yours"), so that in a split deployment the recognizers' own value applies.
func TestTheRecognizerOwnsTheMatchThreshold(t *testing.T) {
	for _, tt := range []struct {
		name          string
		args          []string
		env           map[string]string
		own, requests float32
	}{
		{"default", nil, nil, face.DefaultThreshold, 0},
		{"flag", []string{"--match-threshold", "0.5"}, nil, 0.5, 0.5},
		{"environment", nil, map[string]string{"FACECLUSTER_MATCH_THRESHOLD": "0.45"}, 0.45, 0.45},
		{"given, equal to the default", []string{"--match-threshold", "0.6"}, nil, 0.6, 0.6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, serve, append([]string{"--data-dir", t.TempDir(), "--env-file", ""}, tt.args...), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.MatchThreshold != tt.own || c.RequestThreshold() != tt.requests {
				t.Fatalf("threshold %v, sent by processors %v; want %v, %v", c.MatchThreshold, c.RequestThreshold(), tt.own, tt.requests)
			}
		})
	}
	for _, bad := range []string{"0", "-0.1", "2.5", "NaN"} {
		if _, err := load(t, serve, []string{"--data-dir", t.TempDir(), "--match-threshold", bad}, nil); err == nil || !strings.Contains(err.Error(), "--match-threshold") {
			t.Errorf("--match-threshold %s: error %v, want one naming the flag", bad, err)
		}
	}
}

// TestFlagDefaultsAreTheRolesDefaults: each setting has one owner, the package that uses it;
// the flags show its default rather than repeating it.
func TestFlagDefaultsAreTheRolesDefaults(t *testing.T) {
	c, err := load(t, serve, []string{"--data-dir", t.TempDir(), "--env-file", ""}, nil)
	if err != nil {
		t.Fatal(err)
	}
	proc, rec, recog := processor.DefaultOptions(), reconciler.DefaultOptions(), recognizer.DefaultOptions()
	for _, tt := range []struct {
		flag      string
		got, want any
	}{
		{"--processor-concurrency", c.Concurrency, proc.Concurrency},
		{"--max-attempts (processor)", c.MaxAttempts, proc.MaxAttempts},
		{"--max-attempts (reconciler)", c.MaxAttempts, rec.MaxAttempts},
		{"--lease", c.Lease, proc.Lease},
		{"--retry-delay", c.RetryDelay, proc.RetryDelay},
		{"--max-retry-delay", c.MaxRetryDelay, proc.MaxRetryDelay},
		{"--recognize-timeout", c.RecognizeTimeout, proc.RecognizeTimeout},
		{"--nsqlookupd-poll", c.LookupdPoll, proc.LookupdPoll},
		{"--gallery-poll", c.GalleryPoll, recog.PollInterval},
		{"--match-threshold", c.MatchThreshold, recog.Threshold},
		{"--reconcile-interval", c.ReconcileInterval, rec.Interval},
		{"--pending-age", c.PendingAge, rec.PendingAge},
		{"--max-image-pixels", c.MaxImagePixels, receiver.DefaultOptions().MaxPixels},
		{"--max-image-pixels (recognizer)", c.MaxImagePixels, recog.Limits.MaxPixels},
		{"--breaker-threshold", c.BreakerThreshold, breaker.DefaultOptions().Threshold},
		{"--breaker-cooldown", c.BreakerCoolDown, breaker.DefaultOptions().CoolDown},
		{"--breaker-max-cooldown", c.BreakerMaxCoolDown, breaker.DefaultOptions().MaxCoolDown},
	} {
		if tt.got != tt.want {
			t.Errorf("%s defaults to %v, its owner's default is %v", tt.flag, tt.got, tt.want)
		}
	}
}
