// Package config is facecluster's configuration: command-line flags, FACECLUSTER_* environment
// variables and an optional .env file, validated at start with messages that name the setting.
//
// Precedence, highest first: a flag given on the command line, the environment variable
// FACECLUSTER_<FLAG_NAME> (upper case, dashes as underscores), the same name in the .env file
// (--env-file, default ./.env when it exists), the default. The reference table in
// docs/config.md is generated from the flag set (MarkdownTable) and a test keeps them equal.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/joho/godotenv"
	"github.com/spf13/pflag"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/breaker"
	"github.com/facecluster/facecluster/processor"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/reconciler"
)

// Role is one part of the system that serve can run.
type Role string

const (
	RoleReceiver   Role = "receiver"
	RoleProcessor  Role = "processor"
	RoleRecognizer Role = "recognizer"
	RoleWeb        Role = "web"
	RoleReconciler Role = "reconciler"
	RoleNSQD       Role = "nsqd"
	RoleNSQLookupd Role = "nsqlookupd"
)

// AllRoles is what --roles=all runs: the whole product in one process.
var AllRoles = []Role{RoleReceiver, RoleProcessor, RoleRecognizer, RoleWeb, RoleReconciler, RoleNSQD, RoleNSQLookupd}

// Group selects which settings a command takes.
type Group uint

const (
	GroupDB        Group = 1 << iota // database and data directory (every command that touches data)
	GroupQueue                       // NSQ addresses
	GroupServe                       // roles, listeners and role tuning
	GroupEngine                      // face engine (models, limits, threshold)
	GroupKnown                       // the known-people folder
	GroupRecognize                   // recognizer client address
	GroupStorage                     // where images are kept: the image root and blob storage (also part of GroupServe)
)

// Commands name the groups each command registers (for the docs table).
var Commands = []struct {
	Name   string
	Groups Group
}{
	{"serve", GroupDB | GroupQueue | GroupServe | GroupEngine | GroupKnown | GroupRecognize},
	{"migrate", GroupDB},
	{"enroll", GroupDB | GroupEngine},
	{"retry", GroupDB | GroupQueue},
	{"jobs", GroupDB},
	{"reembed", GroupDB | GroupEngine | GroupStorage},
}

// DefaultKnownPeople is both the flag's name and its default folder (relative to the working
// directory).
const DefaultKnownPeople = "known-people"

// EnvPrefix starts every environment variable.
const EnvPrefix = "FACECLUSTER_"

// Config holds every setting. Fields of groups a command did not register keep their defaults.
type Config struct {
	EnvFile   string
	LogLevel  string
	LogFormat string

	// GroupDB
	DataDir  string
	DBDriver string
	DBDSN    string
	Migrate  bool
	DBWait   time.Duration

	// GroupQueue
	NSQDTCPAddr         string
	NSQDHTTPAddr        string
	NSQDBroadcastAddr   string
	NSQLookupdTCPAddrs  []string
	NSQLookupdHTTPAddrs []string
	ConsumeNSQDAddrs    []string
	LookupdPoll         time.Duration

	// GroupServe
	RolesFlag          []string
	Roles              []Role
	HTTPAddr           string
	GRPCAddr           string
	ImageRoot          string
	BlobURL            string
	APITokens          []string
	SessionKey         string
	ReceiverURL        string
	StatusPeersFlag    []string
	StatusPeers        []StatusPeer
	Concurrency        int
	MaxAttempts        int
	Lease              time.Duration
	RetryDelay         time.Duration
	MaxRetryDelay      time.Duration
	BreakerThreshold   int
	BreakerCoolDown    time.Duration
	BreakerMaxCoolDown time.Duration
	RecognizeTimeout   time.Duration
	GalleryPoll        time.Duration
	ReconcileInterval  time.Duration
	PendingAge         time.Duration
	RetryFailed        bool
	ShutdownTimeout    time.Duration

	// GroupEngine
	ModelsDir      string
	MaxImagePixels int64
	MatchThreshold float32 // the recognizer's; see RequestThreshold for what a client role sends

	// GroupKnown
	KnownPeople string

	// GroupRecognize
	RecognizerAddr string

	groups Group
	fs     *pflag.FlagSet
	given  map[string]bool // flags set on the command line, in the environment or in .env
}

// Register adds the flags of groups (plus the common ones) to fs and returns the Config they
// fill. Call Load after fs is parsed.
func Register(fs *pflag.FlagSet, groups Group) *Config {
	c := &Config{groups: groups, fs: fs}
	// Each role owns its settings' defaults; the flags only show them.
	proc, rec, brk := processor.DefaultOptions(), reconciler.DefaultOptions(), breaker.DefaultOptions()
	fs.StringVar(&c.EnvFile, "env-file", ".env", "file of KEY=VALUE lines read at start when it exists (FACECLUSTER_* settings)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	if groups&GroupDB != 0 {
		fs.StringVar(&c.DataDir, "data-dir", "./data", "directory for the SQLite database, nsqd's queue and uploaded images")
		fs.StringVar(&c.DBDriver, "db-driver", "sqlite", "database: sqlite (embedded, under --data-dir) or mysql")
		fs.StringVar(&c.DBDSN, "db-dsn", "", "database DSN; for sqlite a file path [<data-dir>/facecluster.db], for mysql user:pass@tcp(host:3306)/facecluster")
		fs.BoolVar(&c.Migrate, "migrate", true, "apply database migrations at start")
		fs.DurationVar(&c.DBWait, "db-wait", 2*time.Minute, "how long to wait at start, retrying with backoff, for a database that does not answer yet (and, with --migrate=false, for its schema to be migrated); 0 fails at once")
	}
	if groups&GroupQueue != 0 {
		fs.StringVar(&c.NSQDTCPAddr, "nsqd-tcp-addr", "127.0.0.1:4150", "nsqd TCP address: images are published here (and the embedded nsqd listens here)")
		fs.StringVar(&c.NSQDHTTPAddr, "nsqd-http-addr", "127.0.0.1:4151", "nsqd HTTP address (stats; the embedded nsqd listens here)")
		fs.StringVar(&c.NSQDBroadcastAddr, "nsqd-broadcast-addr", "", "host the embedded nsqd tells nsqlookupd, for processors to connect to (in Kubernetes the pod IP) [the --nsqd-tcp-addr host, or the host name when that is a wildcard]")
		fs.StringSliceVar(&c.NSQLookupdTCPAddrs, "nsqlookupd-tcp-addrs", []string{"127.0.0.1:4160"}, "nsqlookupd TCP addresses nsqd registers with (the embedded nsqlookupd listens on the first)")
		fs.StringSliceVar(&c.NSQLookupdHTTPAddrs, "nsqlookupd-http-addrs", []string{"127.0.0.1:4161"}, "nsqlookupd HTTP addresses processors discover nsqds through (the embedded nsqlookupd listens on the first)")
		fs.DurationVar(&c.LookupdPoll, "nsqlookupd-poll", proc.LookupdPoll, "how often processors ask nsqlookupd for new nsqds (1s when the embedded nsqd runs in the same process)")
		fs.StringSliceVar(&c.ConsumeNSQDAddrs, "consume-nsqd-tcp-addrs", nil, "nsqd TCP addresses processors consume from directly, instead of discovering them through nsqlookupd")
	}
	if groups&GroupServe != 0 {
		fs.StringSliceVar(&c.RolesFlag, "roles", []string{"all"}, "roles to run: all, or any of receiver, processor, recognizer, web, reconciler, nsqd, nsqlookupd")
		fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "the one HTTP listener: receiver API, web UI, /healthz, /readyz, /metrics")
		fs.StringVar(&c.GRPCAddr, "grpc-addr", "127.0.0.1:9090", "the recognizer's gRPC listener")
		fs.StringSliceVar(&c.APITokens, "api-tokens", nil, "bearer tokens that may use the API and UI; empty leaves access control off")
		fs.StringVar(&c.ReceiverURL, "receiver-url", "", "base URL of the receiver API the web role sends uploads and submissions to when the receiver runs elsewhere, e.g. http://receiver:8080")
		fs.StringSliceVar(&c.StatusPeersFlag, "status-peers", nil, "name=http://host:port of each facecluster process running elsewhere whose /readyz and /metrics the web role's status page shows (a host name that resolves to several addresses, like a headless Service, is read at each), e.g. processor=http://processor:8080")
		fs.StringVar(&c.SessionKey, "session-key", "", "secret that signs UI session cookies and CSRF tokens; give every web replica the same one [random per process]")
		fs.IntVar(&c.Concurrency, "processor-concurrency", proc.Concurrency, "images each processor handles at once")
		fs.IntVar(&c.MaxAttempts, "max-attempts", proc.MaxAttempts, "attempts before an image is marked failed")
		fs.DurationVar(&c.Lease, "lease", proc.Lease, "how long a processor's claim on an image lasts before the reconciler may take it back")
		fs.DurationVar(&c.RetryDelay, "retry-delay", proc.RetryDelay, "first delay before a transient failure is retried (doubles each attempt)")
		fs.DurationVar(&c.MaxRetryDelay, "max-retry-delay", proc.MaxRetryDelay, "longest delay between retries")
		fs.IntVar(&c.BreakerThreshold, "breaker-threshold", brk.Threshold, "consecutive recognizer failures that open the circuit breaker")
		fs.DurationVar(&c.BreakerCoolDown, "breaker-cooldown", brk.CoolDown, "wait before the open breaker first probes the recognizer's health")
		fs.DurationVar(&c.BreakerMaxCoolDown, "breaker-max-cooldown", brk.MaxCoolDown, "longest wait between health probes (the wait doubles after each failed probe)")
		fs.DurationVar(&c.RecognizeTimeout, "recognize-timeout", proc.RecognizeTimeout, "deadline of one recognizer call")
		fs.DurationVar(&c.GalleryPoll, "gallery-poll", recognizer.DefaultOptions().PollInterval, "how often recognizers check the database for enrolment changes")
		fs.DurationVar(&c.ReconcileInterval, "reconcile-interval", rec.Interval, "how often the reconciler runs")
		fs.DurationVar(&c.PendingAge, "pending-age", rec.PendingAge, "pending images older than this are published again by the reconciler")
		fs.BoolVar(&c.RetryFailed, "retry-failed", false, "the reconciler also retries failed images")
		fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a SIGTERM waits for in-flight work before requeueing it")
	}
	if groups&(GroupServe|GroupStorage) != 0 {
		fs.StringVar(&c.ImageRoot, "image-root", ".", "only image paths under this directory are accepted (the shared image volume)")
		fs.StringVar(&c.BlobURL, "blob-url", "", "where uploaded images are kept: file:///dir, s3://bucket or gs://bucket [file://<data-dir>/blobs]")
	}
	if groups&GroupEngine != 0 {
		fs.StringVar(&c.ModelsDir, "models-dir", "", "face-api.js model directory [$FACECLUSTER_MODELS_DIR, ./models/node_modules/@vladmandic/face-api/model, /usr/share/facecluster/models]")
		fs.Int64Var(&c.MaxImagePixels, "max-image-pixels", imageio.DefaultMaxPixels, "images with more pixels are refused before decoding")
		fs.Float32Var(&c.MatchThreshold, "match-threshold", face.DefaultThreshold, "a face is taken for a known person when its mean descriptor distance to that person's examples is below this; the recognizer's setting, applied to every request that does not set its own (a processor sends it only when given explicitly, overriding the recognizers')")
	}
	if groups&GroupKnown != 0 {
		fs.StringVar(&c.KnownPeople, DefaultKnownPeople, DefaultKnownPeople, "folder of known people's photos (name.jpg, name_2.jpg…) enrolled at start where the recognizer runs; the default folder is skipped when it does not exist")
	}
	if groups&GroupRecognize != 0 {
		fs.StringVar(&c.RecognizerAddr, "recognizer-addr", "", "gRPC target of the recognizers, e.g. dns:///recognizer:9090 (per-request balancing); [--grpc-addr when this process runs the recognizer]")
	}
	return c
}

// EnvName is the environment variable of a flag.
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Load fills settings not given as flags from the environment (lookup, normally os.LookupEnv)
// and the .env file, then validates everything.
func (c *Config) Load(lookup func(string) (string, bool)) error {
	fs := c.fs
	if !fs.Changed("env-file") {
		if v, ok := lookup(EnvName("env-file")); ok {
			c.EnvFile = v
		}
	}
	dotenv := map[string]string{}
	if c.EnvFile != "" {
		m, err := godotenv.Read(c.EnvFile)
		switch {
		case err == nil:
			dotenv = m
		case errors.Is(err, os.ErrNotExist) && !fs.Changed("env-file"):
			// The default .env is optional.
		default:
			return fmt.Errorf("--env-file %s: %w", c.EnvFile, err)
		}
	}
	for key := range dotenv {
		if strings.HasPrefix(key, EnvPrefix) && fs.Lookup(flagName(key)) == nil && !knownElsewhere(key) {
			return fmt.Errorf("%s in %s: no such setting (see docs/config.md)", key, c.EnvFile)
		}
	}
	var errs []error
	c.given = map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) {
		if fs.Changed(f.Name) {
			c.given[f.Name] = true
		}
		if f.Name == "env-file" || fs.Changed(f.Name) {
			return
		}
		name := EnvName(f.Name)
		v, ok := lookup(name)
		source := "environment variable " + name
		if !ok {
			v, ok = dotenv[name]
			source = name + " in " + c.EnvFile
		}
		if !ok {
			return
		}
		if f.Value.Type() == "stringSlice" {
			// An empty value means an empty list, not a list with one empty string.
			if sv, isSlice := f.Value.(pflag.SliceValue); isSlice && strings.TrimSpace(v) == "" {
				_ = sv.Replace(nil)
				return
			}
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v", source, v, err))
		}
		c.given[f.Name] = true
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.validate()
}

// knownElsewhere lists FACECLUSTER_* variables that are not flags of this command but are
// read elsewhere (tests, the models directory) or belong to another command.
func knownElsewhere(key string) bool {
	if strings.HasPrefix(key, EnvPrefix+"TEST_") || key == EnvPrefix+"MODELS_DIR" || key == EnvPrefix+"SHARED_DIR" {
		return true
	}
	full := pflag.NewFlagSet("all", pflag.ContinueOnError)
	Register(full, ^Group(0))
	return full.Lookup(flagName(key)) != nil
}

func flagName(env string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(env, EnvPrefix), "_", "-"))
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("--log-format %q: want json or text", c.LogFormat)
	}

	if c.groups&GroupServe != 0 {
		roles, err := ParseRoles(c.RolesFlag)
		if err != nil {
			bad("--roles: %v", err)
		}
		c.Roles = roles
	}

	if c.groups&GroupDB != 0 {
		if c.DataDir == "" {
			bad("--data-dir must not be empty")
		}
		switch c.DBDriver {
		case "sqlite":
			if c.DBDSN == "" {
				c.DBDSN = filepath.Join(c.DataDir, "facecluster.db")
			}
		case "mysql":
			if c.DBDSN == "" {
				bad("--db-dsn is required with --db-driver=mysql (e.g. user:pass@tcp(127.0.0.1:3306)/facecluster)")
			}
		default:
			bad("--db-driver %q: want sqlite or mysql", c.DBDriver)
		}
		if c.DBWait < 0 {
			bad("--db-wait must not be negative (got %s)", c.DBWait)
		}
	}

	if c.groups&GroupQueue != 0 {
		needNSQD := c.groups&GroupServe == 0 || c.Has(RoleNSQD) || c.Has(RoleReceiver) || c.Has(RoleReconciler)
		if needNSQD {
			checkAddr(&errs, "--nsqd-tcp-addr", c.NSQDTCPAddr, true)
		}
		if c.Has(RoleNSQD) {
			checkAddr(&errs, "--nsqd-http-addr", c.NSQDHTTPAddr, true)
		}
		for _, a := range c.NSQLookupdTCPAddrs {
			checkAddr(&errs, "--nsqlookupd-tcp-addrs", a, true)
		}
		for _, a := range c.NSQLookupdHTTPAddrs {
			checkAddr(&errs, "--nsqlookupd-http-addrs", a, true)
		}
		for _, a := range c.ConsumeNSQDAddrs {
			checkAddr(&errs, "--consume-nsqd-tcp-addrs", a, true)
		}
		if c.LookupdPoll <= 0 {
			bad("--nsqlookupd-poll must be positive (got %s)", c.LookupdPoll)
		}
		if c.Has(RoleProcessor) && len(c.NSQLookupdHTTPAddrs) == 0 && len(c.ConsumeNSQDAddrs) == 0 {
			bad("the processor role needs --nsqlookupd-http-addrs or --consume-nsqd-tcp-addrs")
		}
		if c.Has(RoleNSQLookupd) && (len(c.NSQLookupdTCPAddrs) == 0 || len(c.NSQLookupdHTTPAddrs) == 0) {
			bad("the nsqlookupd role listens on the first of --nsqlookupd-tcp-addrs and --nsqlookupd-http-addrs: give both")
		}
	}

	if c.groups&(GroupServe|GroupStorage) != 0 && c.BlobURL == "" && c.DataDir != "" {
		if abs, err := filepath.Abs(filepath.Join(c.DataDir, "blobs")); err == nil {
			c.BlobURL = "file://" + filepath.ToSlash(abs)
		}
	}
	if c.groups&GroupServe != 0 {
		checkAddr(&errs, "--http-addr", c.HTTPAddr, false)
		if c.Has(RoleRecognizer) {
			checkAddr(&errs, "--grpc-addr", c.GRPCAddr, false)
		}
		if c.Has(RoleReceiver) || c.Has(RoleProcessor) || c.Has(RoleRecognizer) {
			if st, err := os.Stat(c.ImageRoot); err != nil {
				bad("--image-root %s: %v", c.ImageRoot, err)
			} else if !st.IsDir() {
				bad("--image-root %s is not a directory", c.ImageRoot)
			} else if abs, err := filepath.Abs(c.ImageRoot); err == nil {
				c.ImageRoot = abs
			}
		}
		if c.ReceiverURL != "" {
			if u, err := url.Parse(c.ReceiverURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("--receiver-url %q: want http://host:port", c.ReceiverURL)
			}
		}
		c.StatusPeers = c.StatusPeers[:0]
		for _, p := range c.StatusPeersFlag {
			peer, err := ParseStatusPeer(p)
			if err != nil {
				bad("--status-peers: %v", err)
				continue
			}
			c.StatusPeers = append(c.StatusPeers, peer)
		}
		if c.SessionKey != "" && len(c.SessionKey) < 32 {
			bad("--session-key must be at least 32 characters (got %d)", len(c.SessionKey))
		}
		for _, t := range c.APITokens {
			if len(t) < 16 {
				bad("--api-tokens: every token must be at least 16 characters (one has %d)", len(t))
			}
		}
		positiveInt(&errs, "--processor-concurrency", c.Concurrency)
		positiveInt(&errs, "--max-attempts", c.MaxAttempts)
		positiveInt(&errs, "--breaker-threshold", c.BreakerThreshold)
		for _, d := range []struct {
			name string
			v    time.Duration
		}{
			{"--lease", c.Lease}, {"--retry-delay", c.RetryDelay}, {"--max-retry-delay", c.MaxRetryDelay},
			{"--breaker-cooldown", c.BreakerCoolDown}, {"--breaker-max-cooldown", c.BreakerMaxCoolDown},
			{"--recognize-timeout", c.RecognizeTimeout}, {"--gallery-poll", c.GalleryPoll},
			{"--reconcile-interval", c.ReconcileInterval}, {"--pending-age", c.PendingAge}, {"--shutdown-timeout", c.ShutdownTimeout},
		} {
			if d.v <= 0 {
				bad("%s must be positive (got %s)", d.name, d.v)
			}
		}
		if c.GalleryPoll > time.Second {
			bad("--gallery-poll %s: at most 1s, so enrolment changes reach every recognizer within 2s", c.GalleryPoll)
		}
		if c.MaxRetryDelay < c.RetryDelay {
			bad("--max-retry-delay %s is shorter than --retry-delay %s", c.MaxRetryDelay, c.RetryDelay)
		}
		if c.BreakerMaxCoolDown < c.BreakerCoolDown {
			bad("--breaker-max-cooldown %s is shorter than --breaker-cooldown %s", c.BreakerMaxCoolDown, c.BreakerCoolDown)
		}
		if c.Lease < c.RecognizeTimeout {
			bad("--lease %s is shorter than --recognize-timeout %s: a slow image would lose its claim while still being processed", c.Lease, c.RecognizeTimeout)
		}
	}

	if c.groups&GroupEngine != 0 {
		if c.MaxImagePixels <= 0 {
			bad("--max-image-pixels must be positive (got %d)", c.MaxImagePixels)
		}
		if !(c.MatchThreshold > 0 && c.MatchThreshold <= 2) { // NaN too
			bad("--match-threshold %g: want a distance in (0, 2]", c.MatchThreshold)
		}
	}

	if c.groups&GroupKnown != 0 && c.KnownPeople != "" {
		if _, err := os.Stat(c.KnownPeople); errors.Is(err, os.ErrNotExist) && !c.given[DefaultKnownPeople] {
			c.KnownPeople = "" // the default folder is optional
		} else if st, err := os.Stat(c.KnownPeople); err != nil {
			bad("--known-people %s: %v", c.KnownPeople, err)
		} else if !st.IsDir() {
			bad("--known-people %s is not a directory", c.KnownPeople)
		}
	}

	if c.groups&GroupRecognize != 0 && c.groups&GroupServe != 0 {
		// The processor cannot work without recognizers; the receiver only needs them for
		// enrolment and synchronous recognition (which answer 503 without).
		if c.RecognizerAddr == "" && c.Has(RoleRecognizer) {
			c.RecognizerAddr = dialable(c.GRPCAddr)
		}
		if c.RecognizerAddr == "" && c.Has(RoleProcessor) {
			bad("--recognizer-addr is required when the processor role runs without the recognizer role")
		}
	}
	return errors.Join(errs...)
}

// RequestThreshold is the match threshold a client role (the processor) sends with its
// requests: 0, "use yours", unless --match-threshold was given to this process, so that the
// recognizers' own setting applies — the role that matches owns the threshold.
func (c *Config) RequestThreshold() float32 {
	if c.Changed("match-threshold") {
		return c.MatchThreshold
	}
	return 0
}

// Changed reports whether a setting was given (flag, environment or .env) rather than defaulted.
func (c *Config) Changed(flag string) bool { return c.given[flag] }

// Has reports whether the role is among those to run.
func (c *Config) Has(r Role) bool { return slices.Contains(c.Roles, r) }

// ParseRoles expands "all" and checks every name.
func ParseRoles(names []string) ([]Role, error) {
	var roles []Role
	for _, n := range names {
		n = strings.TrimSpace(strings.ToLower(n))
		if n == "" {
			continue
		}
		if n == "all" {
			for _, r := range AllRoles {
				if !slices.Contains(roles, r) {
					roles = append(roles, r)
				}
			}
			continue
		}
		if !slices.Contains(AllRoles, Role(n)) {
			return nil, fmt.Errorf("unknown role %q (known: all, %s)", n, joinRoles(AllRoles))
		}
		if !slices.Contains(roles, Role(n)) {
			roles = append(roles, Role(n))
		}
	}
	if len(roles) == 0 {
		return nil, errors.New("no role given")
	}
	return roles, nil
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func checkAddr(errs *[]error, flag, addr string, needHost bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s %q: want host:port: %v", flag, addr, err))
		return
	}
	if port == "" {
		*errs = append(*errs, fmt.Errorf("%s %q: missing port", flag, addr))
	}
	if needHost && host == "" {
		*errs = append(*errs, fmt.Errorf("%s %q: missing host", flag, addr))
	}
}

func positiveInt(errs *[]error, flag string, v int) {
	if v <= 0 {
		*errs = append(*errs, fmt.Errorf("%s must be positive (got %d)", flag, v))
	}
}

// dialable turns a listen address into one a client in the same process can dial.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// StatusPeer is another facecluster process the web role's status page reads (--status-peers).
type StatusPeer struct {
	Name string // shown on the status page, e.g. "processor"
	URL  string // HTTP base URL, without a trailing slash
}

// ParseStatusPeer reads one --status-peers entry, name=http://host:port.
func ParseStatusPeer(s string) (StatusPeer, error) {
	name, raw, ok := strings.Cut(strings.TrimSpace(s), "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return StatusPeer{}, fmt.Errorf("%q: want name=http://host:port", s)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return StatusPeer{}, fmt.Errorf("%q: want name=http://host:port", s)
	}
	return StatusPeer{Name: name, URL: strings.TrimRight(u.String(), "/")}, nil
}
