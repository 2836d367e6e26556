package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Drivers accepted in Options.Driver.
const (
	DriverSQLite = "sqlite"
	DriverMySQL  = "mysql"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: the image, person, face or example does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change clashes with existing data (a duplicate person name, retrying an
	// image that is being processed, …).
	ErrConflict = errors.New("conflict")
	// ErrLeaseNotHeld: the caller no longer holds the image's processing lease (it expired and
	// another processor claimed the image, or the outcome was already recorded). Nothing was
	// written; a processor should drop its work for the image and finish the message.
	ErrLeaseNotHeld = errors.New("processing lease not held")
	// ErrInvalid: the input is malformed (empty name, unknown status, wrong descriptor size, …).
	ErrInvalid = errors.New("invalid input")
)

//go:embed migrations/sqlite/*.sql migrations/mysql/*.sql
var migrations embed.FS

// Options configure Open.
type Options struct {
	// Driver is DriverSQLite ("sqlite") or DriverMySQL ("mysql").
	Driver string
	// DSN: for SQLite a file path (or "file:…?…" URI; ":memory:" is refused because every
	// connection would see its own empty database); for MySQL a go-sql-driver DSN such as
	// "user:pass@tcp(host:3306)/facecluster".
	DSN string
	// MaxOpenConns bounds the pool (default 16 for MySQL, 8 for SQLite).
	MaxOpenConns int
	// MaxIdleConns defaults to MaxOpenConns.
	MaxIdleConns int
	// ConnMaxLifetime defaults to 5 minutes for MySQL (servers drop idle connections), none for SQLite.
	ConnMaxLifetime time.Duration
	// BusyTimeout is how long SQLite waits for a lock before failing (default 10s).
	BusyTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Store is safe for concurrent use.
type Store struct {
	db     *sql.DB
	driver string
	log    *slog.Logger
	now    func() time.Time // replaced in tests to move the clock
	// returning: the server is MariaDB ≥ 10.5, whose INSERT … ON DUPLICATE KEY UPDATE …
	// RETURNING answers the id of every row, inserted or already there (MySQL has no RETURNING).
	returning bool
}

// Open connects to the database and checks that it answers. It does not migrate: call Migrate
// (or run `facecluster migrate`). OpenWait waits for a database that is still starting.
func Open(ctx context.Context, opts Options) (*Store, error) {
	st, err := newStore(opts)
	if err != nil {
		return nil, err
	}
	if err := st.connect(ctx); err != nil {
		st.db.Close()
		return nil, err
	}
	return st, nil
}

// connect checks that the database answers (and on MySQL asks which server it is).
func (s *Store) connect(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: connect to %s database: %w", s.driver, err)
	}
	if s.driver == DriverMySQL {
		var version string
		if err := s.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
			return fmt.Errorf("store: %s server version: %w", s.driver, err)
		}
		s.returning = mariaDBReturning(version)
	}
	return nil
}

// newStore checks the options and makes the pool without connecting.
func newStore(opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var (
		dsn       string
		connector driver.Connector
	)
	switch opts.Driver {
	case DriverSQLite:
		d, err := sqliteDSN(opts.DSN, opts.BusyTimeout)
		if err != nil {
			return nil, err
		}
		dsn = d
		if opts.MaxOpenConns == 0 {
			opts.MaxOpenConns = 8
		}
	case DriverMySQL:
		cfg, err := mysql.ParseDSN(opts.DSN)
		if err != nil {
			return nil, fmt.Errorf("store: mysql DSN: %w", err)
		}
		// Client-side interpolation saves the prepare round trip on every statement; with
		// utf8mb4 it is safe.
		cfg.InterpolateParams = true
		// The driver's own messages (a connection dropped while the server restarts or is not
		// up yet) go to the structured log instead of raw lines on stderr.
		cfg.Logger = driverLogger{opts.Logger}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("store: mysql DSN: %w", err)
		}
		connector = c
		if opts.MaxOpenConns == 0 {
			opts.MaxOpenConns = 16
		}
		if opts.ConnMaxLifetime == 0 {
			opts.ConnMaxLifetime = 5 * time.Minute
		}
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want %q or %q)", opts.Driver, DriverSQLite, DriverMySQL)
	}
	var db *sql.DB
	if connector != nil {
		db = sql.OpenDB(connector)
	} else {
		var err error
		if db, err = sql.Open(opts.Driver, dsn); err != nil {
			return nil, fmt.Errorf("store: open %s: %w", opts.Driver, err)
		}
	}
	db.SetMaxOpenConns(opts.MaxOpenConns)
	if opts.MaxIdleConns == 0 {
		opts.MaxIdleConns = opts.MaxOpenConns
	}
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	return &Store{db: db, driver: opts.Driver, log: opts.Logger, now: time.Now}, nil
}

// mariaDBReturning reports whether a server VERSION() is MariaDB 10.5 or later (INSERT …
// RETURNING), e.g. "10.11.19-MariaDB-0+deb12u1"; MySQL ("8.4.3") has no RETURNING.
func mariaDBReturning(version string) bool {
	if !strings.Contains(version, "MariaDB") {
		return false
	}
	version = strings.TrimPrefix(version, "5.5.5-") // the replication-era prefix some builds keep
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 10 || major == 10 && minor >= 5
}

// driverLogger passes the MySQL driver's messages to slog (at debug: the error that matters
// reaches the caller too).
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Debug("mysql driver", "message", strings.TrimSpace(fmt.Sprint(v...)))
}

// sqliteDSN turns a path or file: URI into a modernc DSN with the pragmas every connection needs.
func sqliteDSN(dsn string, busy time.Duration) (string, error) {
	if dsn == "" || strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return "", fmt.Errorf("store: sqlite DSN must name a database file (got %q)", dsn)
	}
	if busy == 0 {
		busy = 10 * time.Second
	}
	base, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("store: sqlite DSN %q: %w", dsn, err)
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Writers take the lock at BEGIN: a deferred transaction that reads and then writes fails
	// with SQLITE_BUSY under WAL instead of waiting for busy_timeout.
	q.Set("_txlock", "immediate")
	if !strings.HasPrefix(base, "file:") {
		base = "file:" + base
	}
	return base + "?" + q.Encode(), nil
}

// Driver returns "sqlite" or "mysql".
func (s *Store) Driver() string { return s.driver }

// DB exposes the pool for health checks and metrics (db.Stats); queries belong in this package.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.driver, err)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Migrate applies every pending migration of the store's dialect.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.migrator()
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", s.driver, err)
	}
	for _, r := range res {
		s.log.Info("migration applied", "driver", s.driver, "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// SchemaVersion returns the applied migration version and the latest one embedded in the binary.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.migrator()
	if err != nil {
		return 0, 0, err
	}
	if current, err = p.GetDBVersion(ctx); err != nil {
		return 0, 0, fmt.Errorf("store: schema version: %w", err)
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

func (s *Store) migrator() (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	if s.driver == DriverMySQL {
		dialect = goose.DialectMySQL
	}
	sub, err := fs.Sub(migrations, "migrations/"+s.driver)
	if err != nil {
		return nil, fmt.Errorf("store: migrations for %s: %w", s.driver, err)
	}
	p, err := goose.NewProvider(dialect, s.db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("store: load migrations: %w", err)
	}
	return p, nil
}

// inTx runs fn in a transaction, retrying a few times when MySQL reports a deadlock or lock wait
// timeout (InnoDB picks a victim under concurrent inserts into the same unique index).
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.tryTx(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return err
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205 // deadlock, lock wait timeout
	}
	return false
}

// isUniqueViolation reports a duplicate key in either dialect.
func isUniqueViolation(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// forUpdate locks selected rows in MySQL; SQLite's immediate transactions already serialize writers.
func (s *Store) forUpdate() string {
	if s.driver == DriverMySQL {
		return " FOR UPDATE"
	}
	return ""
}

func (s *Store) nowMillis() int64 { return s.now().UnixMilli() }

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid || ms.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

func randomToken() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:]) >> 1) // positive
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// querier is what *sql.DB and *sql.Tx both offer for reading rows.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryIDs runs a query that selects one integer column (ids) and returns its values in order,
// with the rows closed, so that a transaction can go on with its next statement.
func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rs.Err()
}

// maxInList is how many ids one "IN (…)" list holds: far below every driver's limit on
// placeholders (SQLite's is the lowest).
const maxInList = 500

// inChunks calls f for the ids maxInList at a time, with the placeholders of an "IN (…)" list
// and the chunk's ids as query arguments; the first error stops it.
func inChunks(ids []int64, f func(in string, args []any) error) error {
	for chunk := range slices.Chunk(ids, maxInList) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := f(placeholders(len(chunk)), args); err != nil {
			return err
		}
	}
	return nil
}

// galleryChangesKept is how many versions of gallery_changes are kept: a recognizer further
// behind than that reloads the whole gallery.
const galleryChangesKept = 100_000

// bumpGallery increments gallery_state.version inside tx and logs the people the change touched
// under the new version (every people/examples change does). The UPDATE locks the row until
// commit, so versions are committed in order and a reader never skips one.
func bumpGallery(ctx context.Context, tx *sql.Tx, people ...int64) error {
	if _, err := tx.ExecContext(ctx, "UPDATE gallery_state SET version = version + 1 WHERE id = 1"); err != nil {
		return fmt.Errorf("bump gallery version: %w", err)
	}
	var v, from int64
	if err := tx.QueryRowContext(ctx, "SELECT version, changes_from FROM gallery_state WHERE id = 1").Scan(&v, &from); err != nil {
		return fmt.Errorf("read gallery version: %w", err)
	}
	if len(people) > 0 {
		var sb strings.Builder
		args := make([]any, 0, 2*len(people))
		seen := map[int64]bool{}
		for _, p := range people {
			if seen[p] {
				continue
			}
			seen[p] = true
			if len(args) > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?)")
			args = append(args, v, p)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO gallery_changes (version, person_id) VALUES "+sb.String(), args...); err != nil {
			return fmt.Errorf("log gallery change: %w", err)
		}
	}
	if v%1000 == 0 && v-galleryChangesKept > from {
		floor := v - galleryChangesKept
		if _, err := tx.ExecContext(ctx, "DELETE FROM gallery_changes WHERE version <= ?", floor); err != nil {
			return fmt.Errorf("prune gallery changes: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE gallery_state SET changes_from = ? WHERE id = 1", floor); err != nil {
			return fmt.Errorf("prune gallery changes: %w", err)
		}
	}
	return nil
}
