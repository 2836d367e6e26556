// Package cli holds the facecluster command tree. Each subcommand lives in its own file and
// stays thin: it parses flags and calls the package that does the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes scripts can rely on.
const (
	ExitOK       = 0
	ExitError    = 1 // the command failed
	ExitUsage    = 2 // bad flags or arguments
	ExitNotFound = 3 // e.g. identify/detect found no face in any input (documented per command)
)

// usageError marks errors caused by how the command was called.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// exitError carries a specific exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "facecluster",
		Short:         "Face recognition for buildings: who is in each picture, and when each person was seen",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCmd(),
		newHealthcheckCmd(),
		newDevCmd(),
		newDetectCmd(),
		newIdentifyCmd(),
		newCompareCmd(),
		newServeCmd(),
		newMigrateCmd(),
		newEnrollCmd(),
		newRetryCmd(),
		newReembedCmd(),
		newJobsCmd(),
		newBenchCmd(),
		newEvalCmd(),
	)
	return root
}

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "facecluster:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitError
}
