package queue

import (
	"context"
	"log/slog"
	"strings"
)

// nsqLogger adapts slog to the Output(calldepth, line) logger that nsqd, nsqlookupd and go-nsq
// take. Their lines start with a level word, which becomes the slog level.
type nsqLogger struct {
	log *slog.Logger
}

func (l nsqLogger) Output(_ int, s string) error {
	level := slog.LevelInfo
	msg := strings.TrimSpace(s)
	for _, p := range []struct {
		prefix string
		level  slog.Level
	}{
		{"DEBUG:", slog.LevelDebug}, {"INFO:", slog.LevelDebug}, {"WARNING:", slog.LevelWarn},
		{"ERROR:", slog.LevelError}, {"FATAL:", slog.LevelError},
		// go-nsq's "%-4s" level names
		{"DBG", slog.LevelDebug}, {"INF", slog.LevelDebug}, {"WRN", slog.LevelWarn}, {"ERR", slog.LevelError},
	} {
		if strings.HasPrefix(msg, p.prefix) {
			level = p.level
			msg = strings.TrimSpace(strings.TrimPrefix(msg, p.prefix))
			break
		}
	}
	if strings.Contains(msg, "use of closed network connection") || strings.Contains(msg, "TOPIC_NOT_FOUND") ||
		strings.Contains(msg, "no available nsqlookupd to query for channels") ||
		strings.Contains(msg, "consumer stopped") {
		// Every shutdown closes connections (and go-nsq reports the reconnects it then refuses);
		// a topic nobody has published to yet is normal.
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, msg)
	return nil
}
