package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/store"
)

func newJobsCmd() *cobra.Command {
	var states []string
	var limit int
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List background jobs (bulk retries, …); show, watch or cancel one",
		Long: `Background jobs are long work done in batches beside the live images — bulk retries today.
The reconciler of every serving facecluster runs them, one replica per job, holding a job back
while live images wait; a job whose replica died is resumed by another from its last checkpoint.
Without a subcommand, lists the newest jobs.`,
		Args: cobra.NoArgs,
	}
	cfg := config.Register(cmd.PersistentFlags(), config.GroupDB)
	list := func(cmd *cobra.Command, _ []string) error {
		var f store.JobFilter
		for _, s := range states {
			st, err := store.ParseJobState(s)
			if err != nil {
				return usageError{fmt.Errorf("--state: %w", err)}
			}
			f.States = append(f.States, st)
		}
		f.Limit = limit
		st, err := openJobsStore(cmd, cfg)
		if err != nil {
			return err
		}
		defer st.Close()
		jobs, err := st.ListJobs(cmd.Context(), f)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if len(jobs) == 0 {
			fmt.Fprintln(out, "no background jobs")
			return nil
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tSTATE\tPROGRESS\tUPDATED\tNOTE")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Kind, j.State, progressText(j), j.UpdatedAt.Local().Format("2006-01-02 15:04:05"), jobNote(j, time.Now()))
		}
		return tw.Flush()
	}
	cmd.RunE = list
	cmd.Flags().StringSliceVar(&states, "state", nil, "only jobs in these states: queued, running, done, failed, cancelled")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many jobs to list, newest first")

	listCmd := &cobra.Command{Use: "list", Short: "List the newest background jobs", Args: cobra.NoArgs, RunE: list}
	listCmd.Flags().AddFlagSet(cmd.Flags())

	var watch bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job; --watch follows its progress until it ends",
		Long: `Show one background job: its kind, parameters, state, progress and checkpoint. With --watch,
a progress bar (on a terminal) follows it until it ends; the exit status is then 0 when it is
done and 1 when it failed or was cancelled.`,
		Args: jobIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := strconv.ParseInt(args[0], 10, 64)
			st, err := openJobsStore(cmd, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			j, err := st.GetJob(cmd.Context(), id)
			if err != nil {
				return notFoundAsUsage(err)
			}
			if watch {
				if j, err = watchJob(cmd.Context(), st, j, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			printJob(cmd.OutOrStdout(), j)
			if watch && j.State != store.JobDone {
				return exitError{ExitError}
			}
			return nil
		},
	}
	show.Flags().BoolVarP(&watch, "watch", "w", false, "follow the job's progress until it ends")

	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued or running job (its runner stops after the batch in hand)",
		Args:  jobIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := strconv.ParseInt(args[0], 10, 64)
			st, err := openJobsStore(cmd, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			j, err := st.CancelJob(cmd.Context(), id)
			if err != nil {
				if errors.Is(err, store.ErrConflict) {
					return fmt.Errorf("job %d is already %s; nothing to cancel", id, j.State)
				}
				return notFoundAsUsage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "job %d cancelled at %s\n", j.ID, progressText(j))
			return nil
		},
	}
	cmd.AddCommand(listCmd, show, cancel)
	return cmd
}

func jobIDArg(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError{fmt.Errorf("want one job id (see facecluster jobs), got %d arguments", len(args))}
	}
	if id, err := strconv.ParseInt(args[0], 10, 64); err != nil || id <= 0 {
		return usageError{fmt.Errorf("job id %q is not a positive integer", args[0])}
	}
	return nil
}

func notFoundAsUsage(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return usageError{fmt.Errorf("%s (see facecluster jobs)", strings.TrimPrefix(err.Error(), "store: "))}
	}
	return err
}

// openJobsStore opens the database of the jobs commands (migrating it first with --migrate, as
// every command that touches data does).
func openJobsStore(cmd *cobra.Command, cfg *config.Config) (*store.Store, error) {
	if err := cfg.Load(os.LookupEnv); err != nil {
		return nil, usageError{err}
	}
	st, err := openStore(cmd, cfg, newLogger(cfg), !cfg.Migrate)
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

func progressText(j store.Job) string {
	if j.Total <= 0 {
		return fmt.Sprintf("%d", j.Done)
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", j.Done, j.Total, 100*float64(j.Done)/float64(j.Total))
}

// jobNote says in a few words what a job is waiting for or why it ended.
func jobNote(j store.Job, now time.Time) string {
	switch {
	case j.State == store.JobRunning && !j.ThrottledAt.IsZero():
		return fmt.Sprintf("held back for live images for %s", now.Sub(j.ThrottledAt).Round(time.Second))
	case j.State == store.JobRunning && j.LeaseExpiresAt.Before(now):
		return "its runner stopped answering; another takes over"
	case j.State == store.JobRunning:
		return "run by " + j.LeaseOwner
	case j.State == store.JobQueued && j.Attempts > 0:
		return "given back; waiting for a runner to resume it"
	case j.State == store.JobQueued:
		return "waiting for a runner (the " + jobs.RunnerRole(j.Kind) + " role of facecluster serve)"
	case j.State == store.JobFailed:
		return j.LastError
	}
	return ""
}

func printJob(w io.Writer, j store.Job) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "id:\t%d\n", j.ID)
	fmt.Fprintf(tw, "kind:\t%s\n", j.Kind)
	fmt.Fprintf(tw, "params:\t%s\n", j.Params)
	fmt.Fprintf(tw, "state:\t%s\n", j.State)
	fmt.Fprintf(tw, "progress:\t%s\n", progressText(j))
	fmt.Fprintf(tw, "checkpoint:\t%s\n", j.Checkpoint)
	if note := jobNote(j, time.Now()); note != "" && j.State != store.JobFailed {
		fmt.Fprintf(tw, "note:\t%s\n", note)
	}
	if j.LastError != "" {
		fmt.Fprintf(tw, "error:\t%s\n", j.LastError)
	}
	fmt.Fprintf(tw, "runs started:\t%d\n", j.Attempts)
	fmt.Fprintf(tw, "created:\t%s\n", at(j.CreatedAt))
	fmt.Fprintf(tw, "started:\t%s\n", at(j.StartedAt))
	fmt.Fprintf(tw, "finished:\t%s\n", at(j.FinishedAt))
	tw.Flush()
}

// watchJob polls job j until it ends (or ctx does), drawing a progress bar on a terminal stderr.
func watchJob(ctx context.Context, st interface {
	GetJob(context.Context, int64) (store.Job, error)
}, j store.Job, stderr io.Writer) (store.Job, error) {
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions64(max(j.Total, 1), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("job %d (%s)", j.ID, j.Kind)), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		defer bar.Finish()
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for !j.State.Final() {
		if bar != nil {
			bar.ChangeMax64(max(j.Total, j.Done, 1))
			desc := fmt.Sprintf("job %d (%s, %s)", j.ID, j.Kind, j.State)
			if !j.ThrottledAt.IsZero() {
				desc = fmt.Sprintf("job %d (%s, held back for live images)", j.ID, j.Kind)
			}
			bar.Describe(desc)
			_ = bar.Set64(j.Done)
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-t.C:
		}
		var err error
		if j, err = st.GetJob(ctx, j.ID); err != nil {
			return j, err
		}
	}
	return j, nil
}
