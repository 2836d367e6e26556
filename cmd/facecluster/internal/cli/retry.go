package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/queue"
	"github.com/facecluster/facecluster/store"
)

func newRetryCmd() *cobra.Command {
	var cfg *config.Config
	var statuses []string
	var background bool
	var params jobs.RetryParams
	cmd := &cobra.Command{
		Use:   "retry",
		Short: "Set images back to pending and publish them again, once (e.g. --status failed)",
		Long: `Retry images in the given statuses: they go back to pending with their attempts reset and
their ids are published to nsqd (--nsqd-tcp-addr). Images being processed are never taken from
their processor. Prints how many images were retried.

The retry is a background job (facecluster jobs), done in batches in id order with a checkpoint
after each. Without --background this command runs it at once and shows its progress; if it is
interrupted, a serving facecluster's reconciler resumes it from the checkpoint. With
--background it only queues the job for the reconciler, which holds it back while live images
wait, and prints the job's id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(os.LookupEnv); err != nil {
				return usageError{err}
			}
			for _, s := range statuses {
				st, err := store.ParseStatus(s)
				if err != nil {
					return usageError{fmt.Errorf("--status: %w", err)}
				}
				if st == store.StatusProcessing {
					return usageError{fmt.Errorf("--status processing: images being processed cannot be retried (the reconciler expires stale leases)")}
				}
				params.Statuses = append(params.Statuses, st)
			}
			if params.Batch < 1 {
				return usageError{fmt.Errorf("--batch %d: want at least 1 image per batch", params.Batch)}
			}
			if err := params.Validate(); err != nil {
				return usageError{fmt.Errorf("--batch: %w", err)}
			}
			log := newLogger(cfg)
			st, err := openStoreMigrating(cmd, cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			if background {
				job, err := jobs.Create(cmd.Context(), st, &params)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "job %d queued: a serving facecluster's reconciler runs it (follow it with: facecluster jobs show %d --watch)\n", job.ID, job.ID)
				return nil
			}
			p, err := queue.NewProducer(cfg.NSQDTCPAddr, log)
			if err != nil {
				return err
			}
			defer p.Close()
			if err := p.Ping(cmd.Context()); err != nil {
				return fmt.Errorf("nsqd at --nsqd-tcp-addr %s is unreachable; nothing was changed: %w", cfg.NSQDTCPAddr, err)
			}
			job, err := jobs.Create(cmd.Context(), st, &params)
			if err != nil {
				return err
			}
			// This process is the job's runner (the user asked for it now: no holding back for
			// live images); the bar follows the job's row like `jobs show --watch`.
			r, err := jobs.New(jobs.Options{Store: st, Handlers: map[string]jobs.Handler{jobs.KindRetry: jobs.Retry(st, p, log)}, Logger: log})
			if err != nil {
				return err
			}
			watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(cmd.Context()))
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				_, _ = watchJob(watchCtx, st, job, cmd.ErrOrStderr())
			}()
			job, err = r.RunJob(cmd.Context(), job.ID)
			stopWatch()
			<-watched
			if err != nil {
				return err
			}
			switch {
			case cmd.Context().Err() != nil:
				return fmt.Errorf("interrupted after %d images: job %d was given back and a serving facecluster's reconciler resumes it (facecluster jobs show %d)", job.Done, job.ID, job.ID)
			case job.State == store.JobCancelled:
				fmt.Fprintf(out, "%d images retried\n", job.Done)
				return errors.New("the retry was cancelled (facecluster jobs cancel) before it finished")
			case job.State != store.JobDone:
				fmt.Fprintf(out, "%d images retried\n", job.Done)
				return fmt.Errorf("retry job %d %s: %s", job.ID, job.State, job.LastError)
			}
			fmt.Fprintf(out, "%d images retried\n", job.Done)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&statuses, "status", []string{"failed"}, "statuses to retry: failed, pending, processed, unidentified, no_faces")
	cmd.Flags().IntVar(&params.Batch, "batch", jobs.DefaultRetryBatch, "images per batch (the job's checkpoint is written after each)")
	cmd.Flags().BoolVar(&background, "background", false, "only queue the retry as a background job for the serving reconcilers, and print its id")
	cfg = config.Register(cmd.Flags(), config.GroupDB|config.GroupQueue)
	return cmd
}
