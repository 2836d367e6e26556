package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/reconciler"
	"github.com/facecluster/facecluster/store"
)

func newRetryCmd() *cobra.Command {
	var cfg *config.Config
	var statuses []string
	cmd := &cobra.Command{
		Use:   "retry",
		Short: "Set images back to pending and publish them again, once (e.g. --status failed)",
		Long: `Retry images in the given statuses: they go back to pending with their attempts reset and
their ids are published to nsqd (--nsqd-tcp-addr). Images being processed are never taken from
their processor. Prints how many images were retried.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(os.LookupEnv); err != nil {
				return usageError{err}
			}
			var sts []store.Status
			for _, s := range statuses {
				st, err := store.ParseStatus(s)
				if err != nil {
					return usageError{fmt.Errorf("--status: %w", err)}
				}
				if st == store.StatusProcessing {
					return usageError{fmt.Errorf("--status processing: images being processed cannot be retried (the reconciler expires stale leases)")}
				}
				sts = append(sts, st)
			}
			log := newLogger(cfg)
			st, err := openStoreMigrating(cmd, cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			p, err := queue.NewProducer(cfg.NSQDTCPAddr, log)
			if err != nil {
				return err
			}
			defer p.Close()
			if err := p.Ping(cmd.Context()); err != nil {
				return fmt.Errorf("nsqd at --nsqd-tcp-addr %s is unreachable; nothing was changed: %w", cfg.NSQDTCPAddr, err)
			}
			ids, err := reconciler.Retry(cmd.Context(), st, p, sts, 1000)
			fmt.Fprintf(cmd.OutOrStdout(), "%d images retried\n", len(ids))
			return err
		},
	}
	cmd.Flags().StringSliceVar(&statuses, "status", []string{"failed"}, "statuses to retry: failed, pending, processed, unidentified, no_faces")
	cfg = config.Register(cmd.Flags(), config.GroupDB|config.GroupQueue)
	return cmd
}
