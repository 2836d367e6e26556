// Package benchingest measures how fast a real receiver accepts paths: single requests at N
// connections and bulk requests, against MySQL or SQLite with an in-process nsqd, checking that
// every path became exactly one image and one queue message. `facecluster bench ingest` runs it;
// docs/benchmarks.md has its results.
package benchingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/receiver"
	"github.com/facecluster/facecluster/store"
)

// Options configure Run.
type Options struct {
	Driver          string // "mysql" (default) or "sqlite"
	MySQLServerDSN  string // a server DSN; the bench creates and drops its own database there
	Connections     int    // concurrent single-path clients
	SingleRequests  int    // POST /image/post requests, one new path each
	BulkPaths       int    // paths sent through POST /images/post
	BulkSize        int    // paths per bulk request
	BulkConnections int    // concurrent bulk clients
	Dir             string // scratch directory (image files, nsqd, SQLite) [a temporary one]
	// Unmeasured requests before the measured phases (connections, pools and the server's
	// caches warm up): WarmupSingle single-path requests and WarmupBulk bulk requests.
	WarmupSingle, WarmupBulk int
	// Settle bounds the wait, before each measured phase, for the MySQL server to write back
	// the pages earlier work left dirty (so one run does not pay for the previous run's
	// flushing); 0: no wait.
	Settle time.Duration
	// CPUProfile, if set, receives a CPU profile of the two measured phases.
	CPUProfile io.Writer
	// HeaderCheckMax is the receiver's option: requests of at most this many paths have each
	// image's header read [the receiver's default, 1].
	HeaderCheckMax int
}

// DefaultOptions are the command's defaults: a run of a few minutes on MySQL (the server DSN
// is the caller's to give).
func DefaultOptions() Options {
	return Options{
		Driver:          store.DriverMySQL,
		Connections:     64,
		SingleRequests:  60000,
		BulkPaths:       200000,
		BulkSize:        1000,
		BulkConnections: 4,
		WarmupSingle:    2000,
		WarmupBulk:      8,
		Settle:          time.Minute,
		HeaderCheckMax:  1,
	}
}

// Result is what Run measured.
type Result struct {
	Driver          string
	SingleRequests  int
	SingleDuration  time.Duration
	SingleRPS       float64
	BulkPaths       int
	BulkDuration    time.Duration
	BulkPathsPerSec float64
	// CPU seconds spent by this process (receiver, nsqd and the load generator) and by the
	// database server (when it runs on this machine) in each phase: the load-independent cost.
	SingleCPU, BulkCPU     float64
	SingleDBCPU, BulkDBCPU float64
	// Dirty pages in the MySQL server's buffer pool when each measured phase began (after
	// settling), -1 when unknown.
	SingleDirty, BulkDirty int64
	Paths                  int   // distinct paths posted, warm-up and the duplicate test included
	Rows                   int64 // images in the database afterwards
	Published              int64 // messages waiting in nsqd afterwards
	DuplicateCreates       int   // of 64 concurrent posts of one new path, how many created an image (want 1)
}

// PrintResult writes one run's measurements.
func PrintResult(out io.Writer, o Options, res Result) {
	dirty := func(n int64) string {
		if n < 0 {
			return ""
		}
		return fmt.Sprintf(" (server started with %d dirty pages)", n)
	}
	fmt.Fprintf(out, "  single: %d requests at %d connections in %v: %.0f requests/s%s\n", res.SingleRequests, o.Connections, res.SingleDuration.Round(time.Millisecond), res.SingleRPS, dirty(res.SingleDirty))
	fmt.Fprintf(out, "  bulk:   %d paths in requests of %d at %d connections in %v: %.0f paths/s%s\n", res.BulkPaths, o.BulkSize, o.BulkConnections, res.BulkDuration.Round(time.Millisecond), res.BulkPathsPerSec, dirty(res.BulkDirty))
	perReq := func(cpu, db float64, n int) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f µs (facecluster %.1f + database server %.1f)", 1e6*(cpu+db)/float64(n), 1e6*cpu/float64(n), 1e6*db/float64(n))
	}
	fmt.Fprintf(out, "  cpu:    per single request %s; per bulk path %s\n", perReq(res.SingleCPU, res.SingleDBCPU, res.SingleRequests), perReq(res.BulkCPU, res.BulkDBCPU, res.BulkPaths))
	fmt.Fprintf(out, "  check:  %d images, %d queued messages for %d paths; 64 concurrent posts of one path created %d image(s)\n", res.Rows, res.Published, res.Paths, res.DuplicateCreates)
}

// printIngestSpread prints min, median and max over the runs.
// PrintSpread writes the spread of several runs' measurements.
func PrintSpread(out io.Writer, all []Result) {
	stat := func(name, unit string, f func(Result) float64) {
		v := make([]float64, len(all))
		for i, r := range all {
			v[i] = f(r)
		}
		slices.Sort(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		fmt.Fprintf(out, "  %-34s min %8.1f  median %8.1f  max %8.1f %s\n", name, v[0], med, v[len(v)-1], unit)
	}
	per := func(cpu float64, n int) float64 {
		if n == 0 {
			return 0
		}
		return 1e6 * cpu / float64(n)
	}
	fmt.Fprintf(out, "over %d runs:\n", len(all))
	stat("single requests/s", "", func(r Result) float64 { return r.SingleRPS })
	stat("bulk paths/s", "", func(r Result) float64 { return r.BulkPathsPerSec })
	stat("single CPU, facecluster", "µs/request", func(r Result) float64 { return per(r.SingleCPU, r.SingleRequests) })
	stat("single CPU, database server", "µs/request", func(r Result) float64 { return per(r.SingleDBCPU, r.SingleRequests) })
	stat("bulk CPU, facecluster", "µs/path", func(r Result) float64 { return per(r.BulkCPU, r.BulkPaths) })
	stat("bulk CPU, database server", "µs/path", func(r Result) float64 { return per(r.BulkDBCPU, r.BulkPaths) })
}

// Validate says what is wrong with o, in the words of the command's flags.
func (o Options) Validate() error {
	if o.Connections <= 0 || o.SingleRequests < 0 || o.BulkPaths < 0 || o.BulkSize <= 0 || o.BulkConnections <= 0 || o.WarmupSingle < 0 || o.WarmupBulk < 0 || o.Settle < 0 {
		return errors.New("bench ingest: --connections, --bulk-size and --bulk-connections must be positive, counts not negative")
	}
	switch o.Driver {
	case store.DriverSQLite:
	case store.DriverMySQL:
		if _, err := mysql.ParseDSN(o.MySQLServerDSN); err != nil {
			return fmt.Errorf("--mysql-dsn: %w", err)
		}
	default:
		return fmt.Errorf("bench ingest: unknown --db-driver %q", o.Driver)
	}
	return nil
}

// Run runs the ingest benchmark (see `facecluster bench ingest --help`); progress goes to logw.
func Run(ctx context.Context, o Options, logw io.Writer) (Result, error) {
	res := Result{Driver: o.Driver}
	if err := o.Validate(); err != nil {
		return res, err
	}
	quiet := slog.New(slog.DiscardHandler)
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "facecluster-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	root := filepath.Join(dir, "images")
	warmBulk := o.WarmupBulk * o.BulkSize
	total := o.WarmupSingle + warmBulk + o.SingleRequests + o.BulkPaths + 1
	fmt.Fprintf(logw, "creating %d image files under %s\n", total, root)
	paths, err := makeBenchFiles(root, total)
	if err != nil {
		return res, err
	}
	take := func(n int) []string {
		p := paths[:n]
		paths = paths[n:]
		return p
	}
	warmS, warmB, single, bulk, dup := take(o.WarmupSingle), take(warmBulk), take(o.SingleRequests), take(o.BulkPaths), take(1)[0]

	so := store.Options{Driver: o.Driver, Logger: quiet, MaxOpenConns: 32}
	switch o.Driver {
	case store.DriverSQLite:
		so.DSN = filepath.Join(dir, fmt.Sprintf("bench-%d.db", time.Now().UnixNano()))
		defer func() {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(so.DSN + suffix)
			}
		}()
	case store.DriverMySQL:
		dsn, drop, err := scratchMySQLDatabase(o.MySQLServerDSN)
		if err != nil {
			return res, err
		}
		defer drop()
		so.DSN = dsn
	}
	st, err := store.Open(ctx, so)
	if err != nil {
		return res, err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return res, err
	}
	nsqdDir, err := os.MkdirTemp(dir, "nsqd-") // a fresh queue even when --dir is reused
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(nsqdDir)
	nsqd, err := queue.StartNSQD(queue.NSQDOptions{DataDir: nsqdDir, TCPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MemQueueMsg: 1 << 20, Logger: quiet})
	if err != nil {
		return res, err
	}
	defer nsqd.Close()
	prod, err := queue.NewProducer(nsqd.TCPAddr(), quiet)
	if err != nil {
		return res, err
	}
	defer prod.Close()
	rc, err := receiver.New(receiver.Options{Store: st, Publisher: prod, ImageRoot: root, Logger: quiet, HeaderCheckMax: o.HeaderCheckMax})
	if err != nil {
		return res, err
	}
	mux := http.NewServeMux()
	rc.Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		rc.Close()
	}()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Connections + o.BulkConnections, MaxConnsPerHost: o.Connections + o.BulkConnections}, Timeout: time.Minute}

	ids := newIDSet(total)
	var admin *sql.DB // the server's status, to let it settle between phases
	if o.Driver == store.DriverMySQL && o.Settle > 0 {
		admin = st.DB()
	}
	singleBodies := func(paths []string) [][]byte {
		b := make([][]byte, len(paths))
		for i, p := range paths {
			b[i], _ = json.Marshal(map[string]string{"path": p})
		}
		return b
	}
	bulkBodies := func(paths []string) ([][]byte, [][]string) {
		n := (len(paths) + o.BulkSize - 1) / o.BulkSize
		b, parts := make([][]byte, n), make([][]string, n)
		for i := range n {
			parts[i] = paths[i*o.BulkSize : min((i+1)*o.BulkSize, len(paths))]
			b[i] = bulkBody(parts[i])
		}
		return b, parts
	}
	runSingle := func(paths []string) error {
		bodies := singleBodies(paths)
		return fanOut(ctx, o.Connections, len(paths), func(i int) error {
			return postSingle(ctx, client, base, bodies[i], paths[i], ids, true)
		})
	}
	runBulk := func(paths []string) (time.Duration, float64, float64, error) {
		bodies, parts := bulkBodies(paths)
		start, cpu0, db0 := time.Now(), processCPU(), dbServerCPU(o.Driver)
		err := fanOut(ctx, o.BulkConnections, len(bodies), func(i int) error {
			return postBulk(ctx, client, base, bodies[i], parts[i], ids)
		})
		return time.Since(start), processCPU() - cpu0, dbServerCPU(o.Driver) - db0, err
	}

	fmt.Fprintf(logw, "warm-up: %d single requests, %d bulk requests\n", len(warmS), o.WarmupBulk)
	if err := runSingle(warmS); err != nil {
		return res, fmt.Errorf("warm-up: %w", err)
	}
	if _, _, _, err := runBulk(warmB); err != nil {
		return res, fmt.Errorf("warm-up: %w", err)
	}
	profiling := false
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return res, err
		}
		profiling = true
		defer func() {
			if profiling {
				pprof.StopCPUProfile()
			}
		}()
	}

	res.SingleDirty = settleMySQL(ctx, admin, o.Settle, logw)
	fmt.Fprintf(logw, "single: %d requests at %d connections\n", len(single), o.Connections)
	bodies := singleBodies(single)
	start, cpu0, db0 := time.Now(), processCPU(), dbServerCPU(o.Driver)
	err = fanOut(ctx, o.Connections, len(single), func(i int) error {
		return postSingle(ctx, client, base, bodies[i], single[i], ids, true)
	})
	res.SingleDuration = time.Since(start)
	res.SingleCPU, res.SingleDBCPU = processCPU()-cpu0, dbServerCPU(o.Driver)-db0
	if err != nil {
		return res, fmt.Errorf("single phase: %w", err)
	}
	res.SingleRequests = len(single)
	res.SingleRPS = float64(len(single)) / res.SingleDuration.Seconds()

	res.BulkDirty = settleMySQL(ctx, admin, o.Settle, logw)
	fmt.Fprintf(logw, "bulk: %d paths in requests of %d at %d connections\n", len(bulk), o.BulkSize, o.BulkConnections)
	res.BulkDuration, res.BulkCPU, res.BulkDBCPU, err = runBulk(bulk)
	if err != nil {
		return res, fmt.Errorf("bulk phase: %w", err)
	}
	if profiling {
		pprof.StopCPUProfile()
		profiling = false
	}
	res.BulkPaths = len(bulk)
	res.BulkPathsPerSec = float64(len(bulk)) / res.BulkDuration.Seconds()

	// Concurrent duplicates of one new path: exactly one image.
	var created atomic.Int64
	dupIDs := newIDSet(1)
	err = fanOut(ctx, 64, 64, func(int) error {
		var s struct {
			ID      int64 `json:"id"`
			Created bool  `json:"created"`
		}
		if err := postJSON(ctx, client, base+"/image/post", map[string]string{"path": dup}, &s); err != nil {
			return err
		}
		if s.Created {
			created.Add(1)
		}
		dupIDs.addShared(s.ID)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("duplicate phase: %w", err)
	}
	res.DuplicateCreates = int(created.Load())

	counts, err := st.CountByStatus(ctx)
	if err != nil {
		return res, err
	}
	for _, n := range counts {
		res.Rows += n
	}
	res.Published = nsqd.Depth()
	res.Paths = total
	want := int64(total)
	switch {
	case ids.size() != total-1:
		return res, fmt.Errorf("exactly-once check: %d distinct ids for %d paths", ids.size(), total-1)
	case res.Rows != want:
		return res, fmt.Errorf("exactly-once check: %d images in the database for %d paths", res.Rows, want)
	case res.Published != want:
		return res, fmt.Errorf("exactly-once check: %d messages queued for %d new images", res.Published, want)
	case res.DuplicateCreates != 1 || dupIDs.size() != 1:
		return res, fmt.Errorf("exactly-once check: 64 concurrent posts of one path created %d images with %d ids", res.DuplicateCreates, dupIDs.size())
	}
	return res, nil
}

// processCPU is the user+system CPU time of this process so far, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// dbServerCPU is the CPU time of a MySQL/MariaDB server on this machine (0 if none is found or
// the driver is SQLite, which runs inside this process), read from /proc.
func dbServerCPU(driver string) float64 {
	if driver != store.DriverMySQL {
		return 0
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total float64
	for _, e := range ents {
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		if c := strings.TrimSpace(string(comm)); c != "mariadbd" && c != "mysqld" {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state is field 3; utime and stime are 14 and 15.
		_, rest, ok := strings.Cut(string(stat), ") ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		var ut, st float64
		fmt.Sscan(f[11], &ut)
		fmt.Sscan(f[12], &st)
		total += (ut + st) / 100 // USER_HZ
	}
	return total
}

// makeBenchFiles creates n small JPEG images (a real header: the receiver may read it), 1000 per
// directory, and returns their paths.
func makeBenchFiles(root string, n int) ([]string, error) {
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 64, 48)), nil); err != nil {
		return nil, err
	}
	paths := make([]string, n)
	for i := range n {
		d := filepath.Join(root, fmt.Sprintf("cam%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		paths[i] = filepath.Join(d, fmt.Sprintf("snap-%07d.jpg", i))
		if fi, err := os.Stat(paths[i]); err == nil && fi.Size() == int64(jpg.Len()) {
			continue // left by an earlier run in the same --dir
		}
		if err := os.WriteFile(paths[i], jpg.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("create bench image files: %w", err)
		}
	}
	return paths, nil
}

// scratchMySQLDatabase creates a uniquely named database and returns its DSN and a dropper.
func scratchMySQLDatabase(serverDSN string) (string, func(), error) {
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return "", nil, fmt.Errorf("--mysql-dsn: %w", err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "fcbench_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create scratch database on %s: %w", cfg.Addr, err)
	}
	cfg.DBName = name
	return cfg.FormatDSN(), func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name)
		admin.Close()
	}, nil
}

// fanOut runs job(0..n-1) on workers goroutines; the first error stops it.
func fanOut(ctx context.Context, workers, n int, job func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := job(i); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

type idSet struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

func newIDSet(n int) *idSet { return &idSet{ids: make(map[int64]struct{}, n)} }

// add records an id that must be new.
func (s *idSet) add(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return fmt.Errorf("image id %d answered for two different paths", id)
	}
	s.ids[id] = struct{}{}
	return nil
}

func (s *idSet) addShared(id int64) {
	s.mu.Lock()
	s.ids[id] = struct{}{}
	s.mu.Unlock()
}

func (s *idSet) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func postSingle(ctx context.Context, c *http.Client, base string, body []byte, path string, ids *idSet, wantCreated bool) error {
	var s struct {
		ID      int64 `json:"id"`
		Created bool  `json:"created"`
	}
	if err := postBody(ctx, c, base+"/image/post", body, &s); err != nil {
		return err
	}
	if wantCreated && !s.Created {
		return fmt.Errorf("%s: not created (id %d)", path, s.ID)
	}
	return ids.add(s.ID)
}

// bulkBody is the /images/post body for paths.
func bulkBody(paths []string) []byte {
	type item struct {
		Path string `json:"path"`
	}
	items := make([]item, len(paths))
	for i, p := range paths {
		items[i] = item{p}
	}
	b, _ := json.Marshal(map[string]any{"paths": items})
	return b
}

func postBulk(ctx context.Context, c *http.Client, base string, body []byte, paths []string, ids *idSet) error {
	var out struct {
		Images []struct {
			ID      int64 `json:"id"`
			Created bool  `json:"created"`
		} `json:"images"`
	}
	if err := postBody(ctx, c, base+"/images/post", body, &out); err != nil {
		return err
	}
	if len(out.Images) != len(paths) {
		return fmt.Errorf("bulk answer has %d images for %d paths", len(out.Images), len(paths))
	}
	for i, im := range out.Images {
		if !im.Created {
			return fmt.Errorf("%s: not created (id %d)", paths[i], im.ID)
		}
		if err := ids.add(im.ID); err != nil {
			return err
		}
	}
	return nil
}

// settleMySQL waits (at most max) until the server's buffer pool holds few dirty pages — at
// most 1 % of its pages, or no fewer than a second ago — and returns how many it holds then
// (-1 without a server to ask).
func settleMySQL(ctx context.Context, db *sql.DB, max time.Duration, logw io.Writer) int64 {
	if db == nil {
		return -1
	}
	status := func(name string) int64 {
		var k string
		var v int64
		if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
			return -1
		}
		return v
	}
	pages := status("Innodb_buffer_pool_pages_total")
	deadline := time.Now().Add(max)
	prev := int64(-1)
	for {
		dirty := status("Innodb_buffer_pool_pages_dirty")
		if dirty < 0 || dirty <= pages/100 || (prev >= 0 && dirty >= prev) || time.Now().After(deadline) {
			return dirty
		}
		if prev < 0 {
			fmt.Fprintf(logw, "waiting for the database server to write back %d dirty pages\n", dirty)
		}
		prev = dirty
		select {
		case <-ctx.Done():
			return dirty
		case <-time.After(time.Second):
		}
	}
}

func postJSON(ctx context.Context, c *http.Client, url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return postBody(ctx, c, url, b, out)
}

func postBody(ctx context.Context, c *http.Client, url string, b []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(rb)))
	}
	return json.Unmarshal(rb, out)
}
