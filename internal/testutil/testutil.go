// Package testutil finds what the tests need outside the Go module — the npm-installed model
// weights, the shared reference fixtures, a MySQL server — the same way in every package.
package testutil

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// RepoRoot returns the directory holding go.mod of this module.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/facecluster/facecluster\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testutil: repository root (go.mod of github.com/facecluster/facecluster) not found")
		}
		dir = parent
	}
}

// ModelsDir returns the face-api.js model directory installed by `make models`
// (or $FACECLUSTER_MODELS_DIR). The models are a hard requirement: `make test` installs them.
func ModelsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("FACECLUSTER_MODELS_DIR")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "models", "node_modules", "@vladmandic", "face-api", "model")
	}
	if _, err := os.Stat(filepath.Join(dir, "face_recognition_model-weights_manifest.json")); err != nil {
		t.Fatalf("model weights not installed in %s: run `make models` (%v)", dir, err)
	}
	return dir
}

// DemoDir returns the npm package's demo photos (sample1.jpg … sample6.jpg), installed with the models.
func DemoDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(ModelsDir(t)), "demo")
	if _, err := os.Stat(filepath.Join(dir, "sample1.jpg")); err != nil {
		t.Fatalf("demo photos not installed in %s: run `make models` (%v)", dir, err)
	}
	return dir
}

// SharedTestdata returns ../shared/faceapi-testdata beside the repository (or
// $FACECLUSTER_SHARED_DIR/faceapi-testdata), skipping the test with a clear message when absent.
func SharedTestdata(t testing.TB) string {
	t.Helper()
	var candidates []string
	if env := os.Getenv("FACECLUSTER_SHARED_DIR"); env != "" {
		candidates = append(candidates, env)
	}
	root := RepoRoot(t)
	for d, i := filepath.Dir(root), 0; i < 3; d, i = filepath.Dir(d), i+1 {
		candidates = append(candidates, filepath.Join(d, "shared"))
	}
	for _, c := range candidates {
		dir := filepath.Join(c, "faceapi-testdata")
		if _, err := os.Stat(filepath.Join(dir, "reference.json")); err == nil {
			return dir
		}
	}
	t.Skipf("shared reference fixtures not found (looked for faceapi-testdata in %s): skipping parity against them", strings.Join(candidates, ", "))
	return ""
}

// MySQLDSN creates a fresh, uniquely named database on the server at
// $FACECLUSTER_TEST_MYSQL_DSN (default root@tcp(127.0.0.1:3306)/), drops it when the test ends,
// and returns a DSN for it. Under CI=true an unreachable server fails the test instead of skipping.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("FACECLUSTER_TEST_MYSQL_DSN")
	if base == "" {
		base = "root@tcp(127.0.0.1:3306)/"
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("FACECLUSTER_TEST_MYSQL_DSN %q: %v", base, err)
	}
	cfg.DBName = ""
	cfg.ParseTime = true
	cfg.MultiStatements = true
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.SetConnMaxLifetime(time.Minute)
	if err := admin.Ping(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MySQL at %s is unreachable and CI=true requires the MySQL suite: %v", cfg.Addr, err)
		}
		t.Skipf("MySQL at %s unreachable (set FACECLUSTER_TEST_MYSQL_DSN): %v", cfg.Addr, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "fctest_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + name)
			db.Close()
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// FreeAddr returns a loopback host:port that was free a moment ago, outside the kernel's
// ephemeral range (see port.go) and never the same twice in a test binary: safe to plan for a
// server that binds it seconds later.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}
