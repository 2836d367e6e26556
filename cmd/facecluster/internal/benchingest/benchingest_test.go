package benchingest

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/store"
)

// TestBenchIngestChecksExactlyOnce runs a small ingest benchmark on both databases: every path
// must end as exactly one image and one queued message.
func TestBenchIngestChecksExactlyOnce(t *testing.T) {
	for _, driver := range []string{store.DriverSQLite, store.DriverMySQL} {
		t.Run(driver, func(t *testing.T) {
			o := Options{Driver: driver, Connections: 16, SingleRequests: 300, BulkPaths: 2500, BulkSize: 1000, BulkConnections: 2, WarmupSingle: 20, WarmupBulk: 1, Settle: time.Second, Dir: t.TempDir()}
			if driver == store.DriverMySQL {
				testutil.MySQLDSN(t) // skips (or fails under CI) without a server
				o.MySQLServerDSN = os.Getenv("FACECLUSTER_TEST_MYSQL_DSN")
				if o.MySQLServerDSN == "" {
					o.MySQLServerDSN = "root@tcp(127.0.0.1:3306)/"
				}
			}
			res, err := Run(context.Background(), o, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if res.Paths != 3821 || res.Rows != 3821 || res.Published != 3821 || res.DuplicateCreates != 1 || res.SingleRPS <= 0 || res.BulkPathsPerSec <= 0 {
				t.Fatalf("result %+v", res)
			}
		})
	}
}
