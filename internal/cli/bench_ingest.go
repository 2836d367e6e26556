package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/receiver"
	"github.com/facecluster/facecluster/store"
)

// IngestBenchOptions configure RunIngestBench.
type IngestBenchOptions struct {
	Driver          string // "mysql" (default) or "sqlite"
	MySQLServerDSN  string // a server DSN; the bench creates and drops its own database there
	Connections     int    // concurrent single-path clients
	SingleRequests  int    // POST /image/post requests, one new path each
	BulkPaths       int    // paths sent through POST /images/post
	BulkSize        int    // paths per bulk request
	BulkConnections int    // concurrent bulk clients
	Dir             string // scratch directory (image files, nsqd, SQLite) [a temporary one]
}

// IngestBenchResult is what RunIngestBench measured.
type IngestBenchResult struct {
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
	Rows                   int64 // images in the database afterwards
	Published              int64 // messages waiting in nsqd afterwards
	DuplicateCreates       int   // of 64 concurrent posts of one new path, how many created an image (want 1)
}

func newBenchIngestCmd() *cobra.Command {
	o := IngestBenchOptions{}
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Measure how fast a real receiver accepts paths (single requests at N connections, and bulk) against MySQL or SQLite with an in-process nsqd",
		Long: `Starts a receiver on a loopback port with a fresh database (on MySQL: a new database on the
server of --mysql-dsn, dropped afterwards) and an in-process nsqd, creates the image files,
then drives it with --connections concurrent clients posting one new path each to /image/post,
and with --bulk-connections clients posting --bulk-size paths each to /images/post. It then
checks that every path became exactly one image and one queue message.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := RunIngestBench(cmd.Context(), o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "driver %s, GOMAXPROCS %d\n", res.Driver, runtime.GOMAXPROCS(0))
			fmt.Fprintf(out, "single: %d requests at %d connections in %v: %.0f requests/s\n", res.SingleRequests, o.Connections, res.SingleDuration.Round(time.Millisecond), res.SingleRPS)
			fmt.Fprintf(out, "bulk:   %d paths in requests of %d at %d connections in %v: %.0f paths/s\n", res.BulkPaths, o.BulkSize, o.BulkConnections, res.BulkDuration.Round(time.Millisecond), res.BulkPathsPerSec)
			perReq := func(cpu, db float64, n int) string {
				if n == 0 {
					return "-"
				}
				return fmt.Sprintf("%.0f µs (facecluster %.0f + database server %.0f)", 1e6*(cpu+db)/float64(n), 1e6*cpu/float64(n), 1e6*db/float64(n))
			}
			fmt.Fprintf(out, "cpu:    per single request %s; per bulk path %s\n", perReq(res.SingleCPU, res.SingleDBCPU, res.SingleRequests), perReq(res.BulkCPU, res.BulkDBCPU, res.BulkPaths))
			fmt.Fprintf(out, "check:  %d images, %d queued messages for %d paths; 64 concurrent posts of one path created %d image(s)\n", res.Rows, res.Published, res.SingleRequests+res.BulkPaths+1, res.DuplicateCreates)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Driver, "db-driver", store.DriverMySQL, "database: mysql or sqlite")
	def := os.Getenv("FACECLUSTER_TEST_MYSQL_DSN")
	if def == "" {
		def = "root@tcp(127.0.0.1:3306)/"
	}
	f.StringVar(&o.MySQLServerDSN, "mysql-dsn", def, "MySQL server DSN; a scratch database is created and dropped there")
	f.IntVar(&o.Connections, "connections", 64, "concurrent single-path clients")
	f.IntVar(&o.SingleRequests, "single", 60000, "single-path requests")
	f.IntVar(&o.BulkPaths, "bulk", 200000, "paths sent in bulk")
	f.IntVar(&o.BulkSize, "bulk-size", 1000, "paths per bulk request")
	f.IntVar(&o.BulkConnections, "bulk-connections", 4, "concurrent bulk clients")
	f.StringVar(&o.Dir, "dir", "", "scratch directory [a temporary directory]")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (receiver included) to this file")
	return cmd
}

// RunIngestBench runs the ingest benchmark (see newBenchIngestCmd); progress goes to logw.
func RunIngestBench(ctx context.Context, o IngestBenchOptions, logw io.Writer) (IngestBenchResult, error) {
	res := IngestBenchResult{Driver: o.Driver}
	if o.Connections <= 0 || o.SingleRequests < 0 || o.BulkPaths < 0 || o.BulkSize <= 0 || o.BulkConnections <= 0 {
		return res, usageError{errors.New("bench ingest: --connections, --bulk-size and --bulk-connections must be positive, counts not negative")}
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
	fmt.Fprintf(logw, "creating %d image files under %s\n", o.SingleRequests+o.BulkPaths+1, root)
	paths, err := makeBenchFiles(root, o.SingleRequests+o.BulkPaths+1)
	if err != nil {
		return res, err
	}
	single, bulk, dup := paths[:o.SingleRequests], paths[o.SingleRequests:o.SingleRequests+o.BulkPaths], paths[len(paths)-1]

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
	default:
		return res, usageError{fmt.Errorf("bench ingest: unknown --db-driver %q", o.Driver)}
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
	rc, err := receiver.New(receiver.Options{Store: st, Publisher: prod, ImageRoot: root, Logger: quiet})
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

	ids := newIDSet(len(paths))
	fmt.Fprintf(logw, "single: %d requests at %d connections\n", len(single), o.Connections)
	start, cpu0, db0 := time.Now(), processCPU(), dbServerCPU(o.Driver)
	err = fanOut(ctx, o.Connections, len(single), func(i int) error {
		return postSingle(ctx, client, base, single[i], ids, true)
	})
	res.SingleDuration = time.Since(start)
	res.SingleCPU, res.SingleDBCPU = processCPU()-cpu0, dbServerCPU(o.Driver)-db0
	if err != nil {
		return res, fmt.Errorf("single phase: %w", err)
	}
	res.SingleRequests = len(single)
	res.SingleRPS = float64(len(single)) / res.SingleDuration.Seconds()

	chunks := (len(bulk) + o.BulkSize - 1) / o.BulkSize
	fmt.Fprintf(logw, "bulk: %d paths in %d requests at %d connections\n", len(bulk), chunks, o.BulkConnections)
	start, cpu0, db0 = time.Now(), processCPU(), dbServerCPU(o.Driver)
	err = fanOut(ctx, o.BulkConnections, chunks, func(i int) error {
		return postBulk(ctx, client, base, bulk[i*o.BulkSize:min((i+1)*o.BulkSize, len(bulk))], ids)
	})
	res.BulkDuration = time.Since(start)
	res.BulkCPU, res.BulkDBCPU = processCPU()-cpu0, dbServerCPU(o.Driver)-db0
	if err != nil {
		return res, fmt.Errorf("bulk phase: %w", err)
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
	want := int64(len(single) + len(bulk) + 1)
	switch {
	case ids.size() != len(single)+len(bulk):
		return res, fmt.Errorf("exactly-once check: %d distinct ids for %d paths", ids.size(), len(single)+len(bulk))
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

// makeBenchFiles creates n small files, 1000 per directory, and returns their paths.
func makeBenchFiles(root string, n int) ([]string, error) {
	paths := make([]string, n)
	for i := range n {
		d := filepath.Join(root, fmt.Sprintf("cam%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
		}
		paths[i] = filepath.Join(d, fmt.Sprintf("snap-%07d.jpg", i))
		if _, err := os.Stat(paths[i]); err == nil {
			continue // left by an earlier run in the same --dir
		}
		if err := os.WriteFile(paths[i], []byte("x"), 0o644); err != nil {
			return nil, fmt.Errorf("create bench image files: %w", err)
		}
	}
	return paths, nil
}

// scratchMySQLDatabase creates a uniquely named database and returns its DSN and a dropper.
func scratchMySQLDatabase(serverDSN string) (string, func(), error) {
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return "", nil, usageError{fmt.Errorf("--mysql-dsn: %w", err)}
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
	dup int64
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

func postSingle(ctx context.Context, c *http.Client, base, path string, ids *idSet, wantCreated bool) error {
	var s struct {
		ID      int64 `json:"id"`
		Created bool  `json:"created"`
	}
	if err := postJSON(ctx, c, base+"/image/post", map[string]string{"path": path}, &s); err != nil {
		return err
	}
	if wantCreated && !s.Created {
		return fmt.Errorf("%s: not created (id %d)", path, s.ID)
	}
	return ids.add(s.ID)
}

func postBulk(ctx context.Context, c *http.Client, base string, paths []string, ids *idSet) error {
	type item struct {
		Path string `json:"path"`
	}
	items := make([]item, len(paths))
	for i, p := range paths {
		items[i] = item{p}
	}
	var out struct {
		Images []struct {
			ID      int64 `json:"id"`
			Created bool  `json:"created"`
		} `json:"images"`
	}
	if err := postJSON(ctx, c, base+"/images/post", map[string]any{"paths": items}, &out); err != nil {
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

func postJSON(ctx context.Context, c *http.Client, url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
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
