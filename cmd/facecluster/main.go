// Command facecluster is the whole face recognition system in one binary: the receiver API,
// processors, recognizers, web UI and tools, chosen by subcommand and --roles.
package main

import (
	"os"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
