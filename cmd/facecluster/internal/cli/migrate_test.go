package cli

import (
	"strings"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
)

func TestMigrateSQLiteAndMySQL(t *testing.T) {
	r := run(t, "migrate", "--data-dir", t.TempDir(), "--env-file", "")
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "sqlite database at schema version") {
		t.Fatalf("sqlite: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "migrate", "--db-driver", "mysql", "--db-dsn", testutil.MySQLDSN(t), "--env-file", "")
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "mysql database at schema version") {
		t.Fatalf("mysql: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "migrate", "--db-driver", "mysql", "--env-file", "")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--db-dsn is required") {
		t.Fatalf("mysql without DSN: exit %d, stderr %q", r.code, r.stderr)
	}
}
