package config

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// MarkdownTable renders the reference table of every setting, as docs/config.md holds it
// between the markers TableBegin and TableEnd.
func MarkdownTable() string {
	all := pflag.NewFlagSet("all", pflag.ContinueOnError)
	Register(all, ^Group(0))
	var b strings.Builder
	b.WriteString("| flag | environment | default | commands | meaning |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	all.VisitAll(func(f *pflag.Flag) {
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s | %s |\n", f.Name, EnvName(f.Name), defaultCell(f), commandsOf(f.Name), escapeCell(f.Usage))
	})
	return b.String()
}

// Markers around the generated table in docs/config.md.
const (
	TableBegin = "<!-- BEGIN GENERATED TABLE (cmd/facecluster/internal/config.MarkdownTable; regenerate: go test ./cmd/facecluster/internal/config -update) -->"
	TableEnd   = "<!-- END GENERATED TABLE -->"
)

func defaultCell(f *pflag.Flag) string {
	d := f.DefValue
	if d == "" || d == "[]" {
		return "—"
	}
	if f.Name == "processor-concurrency" {
		return "number of CPUs"
	}
	return "`" + strings.Trim(d, "[]") + "`"
}

func commandsOf(flag string) string {
	var names []string
	for _, cmd := range Commands {
		fs := pflag.NewFlagSet(cmd.Name, pflag.ContinueOnError)
		Register(fs, cmd.Groups)
		if fs.Lookup(flag) != nil {
			names = append(names, cmd.Name)
		}
	}
	return strings.Join(names, ", ")
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
