package cli

import (
	"log/slog"
	"os"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
)

// newLogger returns the process logger (JSON or text on stderr) and makes it slog's default,
// so libraries that log through slog.Default agree.
func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(os.Stderr, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(os.Stderr, opts)
	}
	log := slog.New(h)
	slog.SetDefault(log)
	return log
}
