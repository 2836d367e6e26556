package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/benchingest"
)

// newBenchCmd groups the benchmarks that need a running system (the kernels' and networks'
// benchmarks are `go test -bench`).
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the running system (see docs/benchmarks.md)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchIngestCmd())
	return cmd
}

func newBenchIngestCmd() *cobra.Command {
	o := benchingest.DefaultOptions()
	var cpuProfile string
	var runs int
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Measure how fast a real receiver accepts paths (single requests at N connections, and bulk) against MySQL or SQLite with an in-process nsqd",
		Long: `Starts a receiver on a loopback port with a fresh database (on MySQL: a new database on the
server of --mysql-dsn, dropped afterwards) and an in-process nsqd, creates the image files,
warms up (--warmup-single and --warmup-bulk requests, not measured), waits for the MySQL server
to write back dirty pages (at most --settle), then drives it with --connections concurrent
clients posting one new path each to /image/post, and with --bulk-connections clients posting
--bulk-size paths each to /images/post. Request bodies are encoded before each phase starts. It
then checks that every path became exactly one image and one queue message. --runs repeats
everything (a fresh database and nsqd each time) and prints the spread.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runs <= 0 {
				return usageError{errors.New("bench ingest: --runs must be positive")}
			}
			if err := o.Validate(); err != nil {
				return usageError{err}
			}
			if o.Dir == "" { // one set of image files for every run
				d, err := os.MkdirTemp("", "facecluster-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				o.Dir = d
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				o.CPUProfile = f
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "driver %s, GOMAXPROCS %d\n", o.Driver, runtime.GOMAXPROCS(0))
			var all []benchingest.Result
			for run := 1; run <= runs; run++ {
				res, err := benchingest.Run(cmd.Context(), o, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				o.CPUProfile = nil // the first run's phases only
				all = append(all, res)
				fmt.Fprintf(out, "run %d:\n", run)
				benchingest.PrintResult(out, o, res)
			}
			if runs > 1 {
				benchingest.PrintSpread(out, all)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Driver, "db-driver", o.Driver, "database: mysql or sqlite")
	def := os.Getenv("FACECLUSTER_TEST_MYSQL_DSN")
	if def == "" {
		def = "root@tcp(127.0.0.1:3306)/"
	}
	f.StringVar(&o.MySQLServerDSN, "mysql-dsn", def, "MySQL server DSN; a scratch database is created and dropped there")
	f.IntVar(&o.Connections, "connections", o.Connections, "concurrent single-path clients")
	f.IntVar(&o.SingleRequests, "single", o.SingleRequests, "single-path requests")
	f.IntVar(&o.BulkPaths, "bulk", o.BulkPaths, "paths sent in bulk")
	f.IntVar(&o.BulkSize, "bulk-size", o.BulkSize, "paths per bulk request")
	f.IntVar(&o.BulkConnections, "bulk-connections", o.BulkConnections, "concurrent bulk clients")
	f.IntVar(&o.WarmupSingle, "warmup-single", o.WarmupSingle, "unmeasured single-path requests first")
	f.IntVar(&o.WarmupBulk, "warmup-bulk", o.WarmupBulk, "unmeasured bulk requests first")
	f.DurationVar(&o.Settle, "settle", o.Settle, "wait at most this long before each phase for the MySQL server to write back dirty pages (0: do not wait)")
	f.IntVar(&o.HeaderCheckMax, "check-headers", o.HeaderCheckMax, "the receiver reads the image headers of requests with at most this many paths (-1: none)")
	f.IntVar(&runs, "runs", 1, "repeat the whole benchmark this many times (fresh database and nsqd each) and print the spread")
	f.StringVar(&o.Dir, "dir", "", "scratch directory [a temporary directory]")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the first run's two measured phases (receiver, nsqd and load generator) to this file")
	return cmd
}
