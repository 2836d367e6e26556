package cli

import "github.com/spf13/cobra"

// newBenchCmd groups the benchmarks that need a running system (the kernels' and networks'
// benchmarks are `go test -bench`).
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the running system (see docs/benchmarks.md)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchIngestCmd())
	return cmd
}
