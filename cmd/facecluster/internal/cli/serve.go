package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/cmd/facecluster/internal/server"
)

const serveGroups = config.GroupDB | config.GroupQueue | config.GroupServe | config.GroupEngine | config.GroupKnown | config.GroupRecognize

func newServeCmd() *cobra.Command {
	var cfg *config.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run facecluster roles (by default all of them: the whole product on this machine)",
		Long: `Run any set of roles in one process: receiver, processor, recognizer, web, reconciler,
and the embedded nsqd and nsqlookupd. --roles=all (the default) is the whole product on one
machine: SQLite and the queue under --data-dir, everything on localhost, one HTTP listener on
--http-addr. Every flag is also a FACECLUSTER_* environment variable; see docs/config.md.
SIGTERM or Ctrl-C shuts down gracefully, finishing or requeueing the images in flight.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(os.LookupEnv); err != nil {
				return usageError{err}
			}
			log := newLogger(cfg)
			srv, err := server.New(cmd.Context(), cfg, log)
			if err != nil {
				if cmd.Context().Err() != nil {
					// SIGTERM while starting (e.g. waiting for the database): a clean stop.
					log.Info("stopped while starting", "reason", err.Error())
					return nil
				}
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	cfg = config.Register(cmd.Flags(), serveGroups)
	return cmd
}
