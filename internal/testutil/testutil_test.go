package testutil

import (
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	_ "github.com/go-sql-driver/mysql"
)

func TestModelsInstalled(t *testing.T) {
	dir := ModelsDir(t)
	if _, err := os.Stat(filepath.Join(DemoDir(t), "sample6.jpg")); err != nil {
		t.Fatal(err)
	}
	t.Log("models in", dir)
}

func TestMySQLDatabaseIsFreshAndUsable(t *testing.T) {
	db, err := sql.Open("mysql", MySQLDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("fresh test database has %d tables, want 0", n)
	}
}

func TestFreeAddrIsOutsideTheEphemeralRangeAndNeverRepeats(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		a := FreeAddr(t)
		_, p, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port < plannedPortLow || port >= plannedPortHigh {
			t.Fatalf("FreeAddr %s: port outside %d–%d", a, plannedPortLow, plannedPortHigh)
		}
		if seen[a] {
			t.Fatalf("FreeAddr handed out %s twice", a)
		}
		seen[a] = true
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("FreeAddr %s is not bindable: %v", a, err)
		}
		l.Close()
	}
}
