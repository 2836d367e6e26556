package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// WaitOptions configure OpenWait.
type WaitOptions struct {
	// Timeout bounds the whole wait; 0 tries once and fails at once.
	Timeout time.Duration
	// Schema also waits until the schema is at least at the latest migration embedded in this
	// binary, for a process that does not migrate itself (another one, such as a Kubernetes Job
	// running `facecluster migrate`, does).
	Schema bool
	// Waiting, when set, is told what is being waited for each time an attempt fails, and ""
	// when the wait is over (for /readyz while a process starts).
	Waiting func(what string)
	// MinDelay and MaxDelay bound the pause between attempts, which doubles after each
	// [250ms, 5s].
	MinDelay, MaxDelay time.Duration
}

// OpenWait is Open for a database that may still be starting (on a first Kubernetes deploy the
// roles start before MySQL and the migration Job are done): it retries with a doubling pause
// until the database answers (and, with w.Schema, until its schema is migrated), logging what it
// waits for, for at most w.Timeout. Wrong settings and refused credentials, which waiting does
// not fix, fail at once.
func OpenWait(ctx context.Context, opts Options, w WaitOptions) (*Store, error) {
	st, err := newStore(opts)
	if err != nil {
		return nil, err
	}
	if err := st.wait(ctx, w); err != nil {
		st.db.Close()
		return nil, err
	}
	return st, nil
}

func (s *Store) wait(ctx context.Context, w WaitOptions) error {
	if w.MinDelay <= 0 {
		w.MinDelay = 250 * time.Millisecond
	}
	if w.MaxDelay <= 0 {
		w.MaxDelay = 5 * time.Second
	}
	if w.Waiting == nil {
		w.Waiting = func(string) {}
	}
	start := time.Now()
	delay := w.MinDelay
	for attempt := 1; ; attempt++ {
		what, err := s.readiness(ctx, w.Schema)
		if err == nil {
			if attempt > 1 {
				s.log.Info("database ready", "driver", s.driver, "waited", time.Since(start).Round(time.Millisecond).String())
			}
			w.Waiting("")
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
		if w.Timeout <= 0 || permanent(err) || (s.driver == DriverSQLite && what == "the database") {
			return err
		}
		waited := time.Since(start)
		if waited >= w.Timeout {
			return fmt.Errorf("%s not ready after waiting %s (--db-wait): %w", what, waited.Round(time.Millisecond), err)
		}
		pause := min(delay, w.Timeout-waited) // the last attempt is at the deadline
		s.log.Warn("waiting for "+what, "driver", s.driver, "err", err.Error(), "attempt", attempt,
			"waited", waited.Round(time.Millisecond).String(), "timeout", w.Timeout.String(), "next_in", pause.String())
		w.Waiting(what + ": " + err.Error())
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(pause):
		}
		delay = min(2*delay, w.MaxDelay)
	}
}

// readiness says what is not ready yet: "the database" (it does not answer) or "the database
// schema" (not migrated as far as this binary needs).
func (s *Store) readiness(ctx context.Context, schema bool) (string, error) {
	if err := s.connect(ctx); err != nil {
		return "the database", err
	}
	if !schema {
		return "", nil
	}
	cur, err := s.appliedVersion(ctx)
	if err != nil {
		return "the database schema", err
	}
	latest, err := s.latestVersion()
	if err != nil {
		return "the database schema", err
	}
	if cur < latest {
		return "the database schema", fmt.Errorf("store: schema at version %d, this binary needs %d (run facecluster migrate, or serve with --migrate)", cur, latest)
	}
	return "", nil
}

// appliedVersion reads goose's version table without creating it (goose's own GetDBVersion
// would, racing the process that migrates); no table is version 0.
func (s *Store) appliedVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version").Scan(&v)
	if err != nil {
		var me *mysql.MySQLError
		if (errors.As(err, &me) && me.Number == 1146) || strings.Contains(err.Error(), "no such table") {
			return 0, nil
		}
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// latestVersion is the newest migration embedded in this binary.
func (s *Store) latestVersion() (int64, error) {
	p, err := s.migrator()
	if err != nil {
		return 0, err
	}
	srcs := p.ListSources()
	if len(srcs) == 0 {
		return 0, nil
	}
	return srcs[len(srcs)-1].Version, nil
}

// permanent reports MySQL errors that waiting does not fix: refused credentials or database
// access (a missing database is waited for: whoever provisions the server may create it later).
// An SQLite file that cannot be opened is not waited for either: it is local.
func permanent(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1044 || me.Number == 1045)
}
