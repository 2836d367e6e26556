// Package devcluster runs facecluster's production topology as processes on one machine's
// loopback: the schema on a MySQL/MariaDB server, three nsqlookupd, an nsqd beside each receiver
// (and beside the reconciler), receivers behind a small round-robin proxy, processors,
// recognizers reached through DNS like a headless Service, and the web UI. Any member can be
// stopped (SIGTERM), killed (SIGKILL) and started again, and the receivers can be rolled one at a
// time to another build — what a Kubernetes rollout does, without a cluster. `facecluster dev
// cluster` is its command line; the reliability tests use the Go API.
//
// nsqd and nsqlookupd are the real programs of NSQ v1.3.0, built from the pinned module in
// ./nsqbuild. The proxy and the name server are hand-written because they are a few lines over
// net/http/httputil and github.com/miekg/dns, and they must follow the members' states.
package devcluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/facecluster/facecluster/queue"
)

// Options describe the cluster. Zero values take the defaults in brackets.
type Options struct {
	// Binary is the facecluster executable the roles run [the running executable].
	Binary string
	// NSQBinDir holds nsqd and nsqlookupd [built into Dir/bin from ./nsqbuild by BuildNSQ].
	NSQBinDir string
	// Dir keeps every member's working directory, data and log [required].
	Dir string
	// MySQLDSN is the server: user:pass@tcp(host:port)/[database]. Without a database name the
	// schema goes into Database [facecluster_dev].
	MySQLDSN string
	Database string
	// FreshDatabase drops the database first.
	FreshDatabase bool
	// ModelsDir and ImageRoot are passed to the roles as --models-dir and --image-root.
	ModelsDir, ImageRoot string
	// Counts of each member [3 nsqlookupd, 2 receivers, 3 processors, 2 recognizers].
	Lookupds, Receivers, Processors, Recognizers int
	// ProxyAddr is where the receivers' load balancer listens [127.0.0.1:0].
	ProxyAddr string
	// ExtraArgs are added to every `facecluster serve` (e.g. --lease=5s for tests).
	ExtraArgs []string
	// StartTimeout bounds the wait for each member to become ready [2m].
	StartTimeout time.Duration
	// StopGrace is how long a stopped member may take before it is killed [30s].
	StopGrace time.Duration
	Log       *slog.Logger
}

// Cluster is a running local cluster.
type Cluster struct {
	opts    Options
	log     *slog.Logger
	dsn     string
	members []*Member
	proxy   *proxy
	proxyL  net.Listener
	dns     *nameServer
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.Mutex
	paused map[string]bool // receivers held out of the proxy's rotation
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		return errors.New("devcluster: Options.Dir is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = dir
	if o.Binary == "" {
		if o.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("devcluster: find the facecluster binary: %w", err)
		}
	}
	if o.Binary, err = filepath.Abs(o.Binary); err != nil {
		return err
	}
	if o.MySQLDSN == "" {
		o.MySQLDSN = "root@tcp(127.0.0.1:3306)/"
	}
	if o.Database == "" {
		o.Database = "facecluster_dev"
	}
	for _, p := range []*int{&o.Lookupds, &o.Receivers, &o.Processors, &o.Recognizers} {
		if *p < 0 {
			return errors.New("devcluster: member counts cannot be negative")
		}
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&o.Lookupds, 3)
	def(&o.Receivers, 2)
	def(&o.Processors, 3)
	def(&o.Recognizers, 2)
	if o.Recognizers > 50 {
		return errors.New("devcluster: at most 50 recognizers (one loopback address each)")
	}
	if o.ProxyAddr == "" {
		o.ProxyAddr = "127.0.0.1:0"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if o.StopGrace == 0 {
		o.StopGrace = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	for _, p := range []*string{&o.ModelsDir, &o.ImageRoot} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return err
			}
		}
	}
	return nil
}

// Start builds what is missing, prepares the database and starts every member in dependency
// order, each ready before the next kind starts. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, log: opts.Log, paused: map[string]bool{}}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	if c.opts.NSQBinDir == "" {
		bin := filepath.Join(opts.Dir, "bin")
		if err := BuildNSQ(ctx, bin); err != nil {
			return nil, err
		}
		c.opts.NSQBinDir = bin
	}
	dsn, err := prepareDatabase(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.dsn = dsn
	if err := c.migrate(ctx); err != nil {
		return nil, err
	}
	if err := c.plan(ctx); err != nil {
		c.Close() // lets go of the ports planned so far
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, role := range []string{"nsqlookupd", "nsqd", "recognizer", "processor", "receiver", "reconciler", "web"} {
		if err := c.startRole(ctx, role); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.proxy.watch(runCtx, c.isPaused) }()
	go func() { defer c.wg.Done(); c.proxy.serve(runCtx, c.proxyL) }()
	// The rotation fills within one readiness round; wait for it so callers can post at once.
	deadline := time.Now().Add(opts.StartTimeout)
	for len(c.proxy.rotation()) < len(c.Members("receiver")) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	c.log.Info("dev cluster up", "receivers", c.URL(), "web", c.WebURL(), "database", c.dsn)
	return c, nil
}

// startRole starts every member of a role concurrently and waits for all to be ready.
func (c *Cluster) startRole(ctx context.Context, role string) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, m := range c.members {
		if m.Role != role {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.start(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Members' ports are planned before the members start, some of them many seconds later (the
// recognizers load the face engine first). Two things could take a planned port meanwhile:
//   - any program asking the kernel for ":0", or an outgoing connection: so the cluster picks its
//     ports below Linux's ephemeral range (32768–60999 by default), where only programs that
//     name a port bind;
//   - another member of this cluster, or another dev cluster on the machine (tests of several
//     checkouts run at once), picking the same port at random: so each planned port stays bound
//     by the cluster (a held listener) until just before its member starts, and a port in use
//     is never picked.
const (
	plannedPortLow  = 20000
	plannedPortHigh = 32000
)

// holdPort binds a random port outside the ephemeral range on ip and keeps it bound: the
// caller closes the listener just before the program that was given the port starts.
func holdPort(ip string) (net.Listener, error) {
	var err error
	for range 500 {
		port := strconv.Itoa(plannedPortLow + rand.IntN(plannedPortHigh-plannedPortLow))
		var l net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort(ip, port)); err == nil {
			return l, nil
		}
	}
	return nil, err
}

// loopback holds a port on 127.0.0.1 and returns its address.
func loopback() (string, net.Listener, error) {
	l, err := holdPort("127.0.0.1")
	if err != nil {
		return "", nil, fmt.Errorf("devcluster: no free port: %w", err)
	}
	return l.Addr().String(), l, nil
}

// recognizerIP is recognizer i's own loopback address.
func recognizerIP(i int) net.IP { return net.IPv4(127, 0, 0, byte(20+i)) }

// plan assigns addresses and builds every member's command line.
func (c *Cluster) plan(ctx context.Context) error {
	o := c.opts
	nsqd := filepath.Join(o.NSQBinDir, "nsqd")
	nsqlookupd := filepath.Join(o.NSQBinDir, "nsqlookupd")
	env := memberEnv()
	newMember := func(name, role, binary string) *Member {
		m := &Member{Name: name, Role: role, binary: binary, env: env, dir: filepath.Join(o.Dir, "members", name), log: c.log, state: StateStopped}
		c.members = append(c.members, m)
		return m
	}
	// addrs holds n ports for the member m (released when it starts).
	addrs := func(m *Member, n int) ([]string, error) {
		var as []string
		for range n {
			a, l, err := loopback()
			if err != nil {
				return nil, err
			}
			m.holds = append(m.holds, l)
			as = append(as, a)
		}
		return as, nil
	}

	var lookupTCP, lookupHTTP []string
	for i := range o.Lookupds {
		m := newMember(fmt.Sprintf("nsqlookupd-%d", i), "nsqlookupd", nsqlookupd)
		a, err := addrs(m, 2)
		if err != nil {
			return err
		}
		m.TCPAddr, m.HTTPAddr = a[0], a[1]
		m.args = []string{"--tcp-address=" + a[0], "--http-address=" + a[1], "--broadcast-address=127.0.0.1"}
		m.readyURL = "http://" + a[1] + "/ping"
		lookupTCP, lookupHTTP = append(lookupTCP, a[0]), append(lookupHTTP, a[1])
	}

	// Recognizers share one port, each on its own loopback address, named by the name server:
	// a port free on every one of those addresses, held on each until its recognizer starts.
	var port string
	var ips []net.IP
	var recognizerHolds []net.Listener
	for range 50 {
		first, err := holdPort(recognizerIP(0).String())
		if err != nil {
			return fmt.Errorf("devcluster: loopback address %s is not usable (recognizers need 127.0.0.2x): %w", recognizerIP(0), err)
		}
		_, p, _ := net.SplitHostPort(first.Addr().String())
		holds := []net.Listener{first}
		for i := 1; i < o.Recognizers; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort(recognizerIP(i).String(), p))
			if err != nil {
				break
			}
			holds = append(holds, l)
		}
		if len(holds) == max(o.Recognizers, 1) {
			port, recognizerHolds = p, holds
			break
		}
		for _, l := range holds {
			l.Close()
		}
	}
	if port == "" {
		return errors.New("devcluster: no port free on every recognizer address (127.0.0.20…)")
	}
	if o.Recognizers == 0 {
		recognizerHolds[0].Close()
	}
	for i := range o.Recognizers {
		ips = append(ips, recognizerIP(i))
	}
	ns, err := startNameServer(ctx, ips)
	if err != nil {
		return err
	}
	c.dns = ns
	recognizerTarget := ns.target(port)

	blobURL := "file://" + filepath.Join(o.Dir, "blobs")
	serve := func(m *Member, role string, extra ...string) {
		m.args = []string{"serve", "--roles=" + role,
			"--http-addr=" + m.HTTPAddr,
			"--db-driver=mysql", "--db-dsn=" + c.dsn, "--migrate=false",
			"--data-dir=" + m.dir, "--blob-url=" + blobURL,
			"--recognizer-addr=" + recognizerTarget,
			"--log-format=json"}
		if o.ModelsDir != "" {
			m.args = append(m.args, "--models-dir="+o.ModelsDir)
		}
		if o.ImageRoot != "" {
			m.args = append(m.args, "--image-root="+o.ImageRoot)
		}
		m.args = append(append(m.args, extra...), o.ExtraArgs...)
		m.readyURL = "http://" + m.HTTPAddr + "/readyz"
	}
	// An nsqd registered with every nsqlookupd, for a publisher.
	newNSQD := func(name string) (*Member, error) {
		m := newMember(name, "nsqd", nsqd)
		a, err := addrs(m, 2)
		if err != nil {
			return nil, err
		}
		m.TCPAddr, m.HTTPAddr = a[0], a[1]
		m.args = []string{"--tcp-address=" + a[0], "--http-address=" + a[1], "--broadcast-address=127.0.0.1",
			"--data-path=" + m.dir}
		for _, l := range lookupTCP {
			m.args = append(m.args, "--lookupd-tcp-address="+l)
		}
		m.readyURL = "http://" + a[1] + "/ping"
		m.afterReady = func(ctx context.Context) error { return createTopic(ctx, "http://"+a[1]) }
		return m, nil
	}

	for i := range o.Recognizers {
		m := newMember(fmt.Sprintf("recognizer-%d", i), "recognizer", o.Binary)
		a, err := addrs(m, 1)
		if err != nil {
			return err
		}
		m.holds = append(m.holds, recognizerHolds[i])
		m.HTTPAddr, m.GRPCAddr = a[0], net.JoinHostPort(recognizerIP(i).String(), port)
		serve(m, "recognizer", "--grpc-addr="+m.GRPCAddr)
	}
	for i := range o.Processors {
		m := newMember(fmt.Sprintf("processor-%d", i), "processor", o.Binary)
		a, err := addrs(m, 1)
		if err != nil {
			return err
		}
		m.HTTPAddr = a[0]
		serve(m, "processor", "--nsqlookupd-http-addrs="+strings.Join(lookupHTTP, ","))
	}
	var receivers []*Member
	for i := range o.Receivers {
		q, err := newNSQD(fmt.Sprintf("nsqd-%d", i))
		if err != nil {
			return err
		}
		m := newMember(fmt.Sprintf("receiver-%d", i), "receiver", o.Binary)
		a, err := addrs(m, 1)
		if err != nil {
			return err
		}
		m.HTTPAddr = a[0]
		serve(m, "receiver", "--nsqd-tcp-addr="+q.TCPAddr, "--nsqd-http-addr="+q.HTTPAddr)
		receivers = append(receivers, m)
	}
	q, err := newNSQD("nsqd-reconciler")
	if err != nil {
		return err
	}
	m := newMember("reconciler-0", "reconciler", o.Binary)
	a, err := addrs(m, 1)
	if err != nil {
		return err
	}
	m.HTTPAddr = a[0]
	// The lookupd addresses, as the ConfigMap gives every role on Kubernetes: the reconciler reports
	// the cluster's queue depth from the nsqds they list (else it would ask 127.0.0.1:4161).
	serve(m, "reconciler", "--nsqd-tcp-addr="+q.TCPAddr, "--nsqd-http-addr="+q.HTTPAddr,
		"--nsqlookupd-http-addrs="+strings.Join(lookupHTTP, ","))
	// The web role runs alone, as on Kubernetes: its status page reads every other facecluster
	// member's /readyz and /metrics, each by its member name, and the queue depth of the nsqds
	// through the nsqlookupd.
	var peers []string
	for _, m := range c.members {
		if m.binary == o.Binary && m.HTTPAddr != "" {
			peers = append(peers, m.Name+"=http://"+m.HTTPAddr)
		}
	}
	// Uploads and submissions from the UI go through the receivers' load balancer, as they go
	// through the receiver Service on Kubernetes.
	c.proxy = newProxy(c.log, receivers)
	c.proxyL, err = net.Listen("tcp", o.ProxyAddr)
	if err != nil {
		return fmt.Errorf("devcluster: proxy on %s: %w", o.ProxyAddr, err)
	}
	w := newMember("web-0", "web", o.Binary)
	wa, err := addrs(w, 1)
	if err != nil {
		return err
	}
	w.HTTPAddr = wa[0]
	serve(w, "web", "--status-peers="+strings.Join(peers, ","), "--nsqlookupd-http-addrs="+strings.Join(lookupHTTP, ","),
		"--receiver-url=http://"+c.proxyL.Addr().String())
	return nil
}

// createTopic creates the images topic and the processors' channel on an nsqd, so that it is
// registered with nsqlookupd (processors find it, and become ready) and keeps what is published
// before any processor connects.
func createTopic(ctx context.Context, nsqdHTTP string) error {
	for _, path := range []string{
		"/topic/create?topic=" + url.QueryEscape(queue.Topic),
		"/channel/create?topic=" + url.QueryEscape(queue.Topic) + "&channel=" + url.QueryEscape(queue.Channel),
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, nsqdHTTP+path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("create topic: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("create topic: %s%s: %s", nsqdHTTP, path, resp.Status)
		}
	}
	return nil
}

// memberEnv is the environment of every member: this one's without FACECLUSTER_* settings, so
// that only the command line configures the members.
func memberEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FACECLUSTER_") {
			env = append(env, kv)
		}
	}
	return env
}

var dbName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// prepareDatabase creates the database on the server and returns the members' DSN.
func prepareDatabase(ctx context.Context, o Options) (string, error) {
	cfg, err := mysql.ParseDSN(o.MySQLDSN)
	if err != nil {
		return "", fmt.Errorf("devcluster: MySQL DSN %q: %w", o.MySQLDSN, err)
	}
	name := cfg.DBName
	if name == "" {
		name = o.Database
	}
	if !dbName.MatchString(name) {
		return "", fmt.Errorf("devcluster: database name %q: use letters, digits and _", name)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", fmt.Errorf("devcluster: %w", err)
	}
	defer admin.Close()
	if o.FreshDatabase {
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			return "", fmt.Errorf("devcluster: drop database %s at %s: %w", name, cfg.Addr, err)
		}
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return "", fmt.Errorf("devcluster: create database %s at %s: %w", name, cfg.Addr, err)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN(), nil
}

// migrate applies the schema once with `facecluster migrate`, as the Kubernetes Job does.
func (c *Cluster) migrate(ctx context.Context) error {
	dir := filepath.Join(c.opts.Dir, "members", "migrate")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, c.opts.Binary, "migrate", "--db-driver=mysql", "--db-dsn="+c.dsn, "--data-dir="+dir, "--log-format=json")
	cmd.Dir = dir
	cmd.Env = memberEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("devcluster: facecluster migrate: %w\n%s", err, out)
	}
	return nil
}

// BuildNSQ builds the nsqd and nsqlookupd programs of NSQ v1.3.0 into dir, from the pinned
// module in this package's nsqbuild directory (needs the Go toolchain and the module proxy or
// cache). Existing binaries are kept.
func BuildNSQ(ctx context.Context, dir string) error {
	if fileExists(filepath.Join(dir, "nsqd")) && fileExists(filepath.Join(dir, "nsqlookupd")) {
		return nil
	}
	src, err := nsqbuildDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"github.com/nsqio/nsq/apps/nsqd", "github.com/nsqio/nsq/apps/nsqlookupd")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("devcluster: build nsqd and nsqlookupd (go build in %s): %w\n%s", src, err, out)
	}
	return nil
}

// nsqbuildDir finds cmd/facecluster/internal/devcluster/nsqbuild of the facecluster checkout: from the working
// directory upwards, or $FACECLUSTER_SOURCE_DIR.
func nsqbuildDir() (string, error) {
	rel := filepath.Join("cmd", "facecluster", "internal", "devcluster", "nsqbuild")
	if src := os.Getenv("FACECLUSTER_SOURCE_DIR"); src != "" {
		return filepath.Join(src, rel), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, rel, "go.mod")) {
			return filepath.Join(dir, rel), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("devcluster: to build nsqd and nsqlookupd, run from a facecluster checkout (or set FACECLUSTER_SOURCE_DIR), or pass prebuilt ones with --nsq-bin-dir")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// URL is the receivers' load balancer: post images here.
func (c *Cluster) URL() string { return "http://" + c.proxyL.Addr().String() }

// WebURL is the web UI.
func (c *Cluster) WebURL() string {
	for _, m := range c.members {
		if m.Role == "web" {
			return "http://" + m.HTTPAddr
		}
	}
	return ""
}

// DSN is the database the members use.
func (c *Cluster) DSN() string { return c.dsn }

// Members lists the members, of the given roles only when some are named.
func (c *Cluster) Members(roles ...string) []MemberStatus {
	var ss []MemberStatus
	for _, m := range c.members {
		if len(roles) == 0 || slices.Contains(roles, m.Role) {
			ss = append(ss, m.status())
		}
	}
	return ss
}

func (c *Cluster) member(name string) (*Member, error) {
	for _, m := range c.members {
		if m.Name == name {
			return m, nil
		}
	}
	var names []string
	for _, m := range c.members {
		names = append(names, m.Name)
	}
	return nil, fmt.Errorf("no member %q (members: %s)", name, strings.Join(names, ", "))
}

func (c *Cluster) isPaused(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused[name]
}

func (c *Cluster) pause(m *Member, on bool) {
	if m.Role != "receiver" {
		return
	}
	c.mu.Lock()
	c.paused[m.Name] = on
	c.mu.Unlock()
	if on {
		c.proxy.setRotation(m.Name, false)
	}
}

// Stop ends a member gracefully (SIGTERM; SIGKILL after the grace period). A receiver leaves the
// proxy's rotation first, as a pod leaves its Service's endpoints before its preStop pause.
func (c *Cluster) Stop(name string) error {
	m, err := c.member(name)
	if err != nil {
		return err
	}
	c.pause(m, true)
	return m.stop(c.opts.StopGrace)
}

// Kill ends a member at once (SIGKILL), like a crash: nothing is drained.
func (c *Cluster) Kill(name string) error {
	m, err := c.member(name)
	if err != nil {
		return err
	}
	return m.kill()
}

// StartMember starts a stopped, killed or crashed member again and waits until it is ready.
func (c *Cluster) StartMember(ctx context.Context, name string) error {
	m, err := c.member(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	if err := m.start(ctx); err != nil {
		return err
	}
	c.pause(m, false)
	return nil
}

// Restart stops a member gracefully and starts it again.
func (c *Cluster) Restart(ctx context.Context, name string) error {
	if err := c.Stop(name); err != nil {
		return err
	}
	return c.StartMember(ctx, name)
}

// RollReceivers replaces the receivers one at a time with binary, as a RollingUpdate with
// maxUnavailable 0 does: each leaves the rotation, stops gracefully, starts on the new binary and
// rejoins once ready, while the others keep serving. It stops at the first receiver that does
// not come up, leaving the rest on the old binary.
func (c *Cluster) RollReceivers(ctx context.Context, binary string) error {
	abs, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	if !fileExists(abs) {
		return fmt.Errorf("roll receivers: %s is not a file", abs)
	}
	for _, m := range c.members {
		if m.Role != "receiver" {
			continue
		}
		c.log.Info("rolling receiver", "member", m.Name, "binary", abs)
		c.pause(m, true)
		// The load balancer has stopped sending; let requests already routed finish.
		time.Sleep(300 * time.Millisecond)
		if err := m.stop(c.opts.StopGrace); err != nil {
			return fmt.Errorf("roll receivers: %w", err)
		}
		m.mu.Lock()
		m.binary = abs
		m.mu.Unlock()
		if err := c.StartMember(ctx, m.Name); err != nil {
			return fmt.Errorf("roll receivers: %w", err)
		}
		for !c.inRotation(m.Name) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func (c *Cluster) inRotation(name string) bool {
	return slices.ContainsFunc(c.proxy.rotation(), func(m *Member) bool { return m.Name == name })
}

// Close stops every member, in the reverse of the start order, and the proxy and name server.
// The database is kept (Start with FreshDatabase to begin again).
func (c *Cluster) Close() error {
	if c.cancel != nil {
		c.cancel()
	} else if c.proxyL != nil {
		c.proxyL.Close()
	}
	c.wg.Wait()
	var errs []error
	for _, role := range []string{"web", "receiver", "reconciler", "processor", "recognizer", "nsqd", "nsqlookupd"} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, m := range c.members {
			if m.Role != role {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := m.stop(c.opts.StopGrace); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	for _, m := range c.members {
		m.release()
	}
	if c.dns != nil {
		c.dns.close()
	}
	return errors.Join(errs...)
}
