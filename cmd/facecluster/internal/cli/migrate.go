package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/store"
)

func newMigrateCmd() *cobra.Command {
	var cfg *config.Config
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations (SQLite under --data-dir, or MySQL with --db-driver=mysql --db-dsn=…)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(os.LookupEnv); err != nil {
				return usageError{err}
			}
			log := newLogger(cfg)
			st, err := openStore(cmd, cfg, log, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.Migrate(cmd.Context()); err != nil {
				return err
			}
			cur, latest, err := st.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			log.Debug("migrations done", "version", cur)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s database at schema version %d (latest %d)\n", cfg.DBDriver, cur, latest)
			return err
		},
	}
	cfg = config.Register(cmd.Flags(), config.GroupDB)
	return cmd
}

// openStore opens the configured database (creating the SQLite directory), waiting up to
// --db-wait for it to answer and, when schema is set, for its schema to be migrated.
func openStore(cmd *cobra.Command, cfg *config.Config, log *slog.Logger, schema bool) (*store.Store, error) {
	if cfg.DBDriver == store.DriverSQLite {
		if err := os.MkdirAll(filepath.Dir(cfg.DBDSN), 0o755); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	return store.OpenWait(cmd.Context(), store.Options{Driver: cfg.DBDriver, DSN: cfg.DBDSN, Logger: log},
		store.WaitOptions{Timeout: cfg.DBWait, Schema: schema})
}

// openStoreMigrating opens the configured database for a command that works in it: with
// --migrate it brings the schema up to date first, without it it waits for the schema as
// openStore does.
func openStoreMigrating(cmd *cobra.Command, cfg *config.Config, log *slog.Logger) (*store.Store, error) {
	st, err := openStore(cmd, cfg, log, !cfg.Migrate)
	if err != nil {
		return nil, err
	}
	if cfg.Migrate {
		if err := st.Migrate(cmd.Context()); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}
