package testutil

import (
	"database/sql"
	"os"
	"path/filepath"
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
