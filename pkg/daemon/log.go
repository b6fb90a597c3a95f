package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// LogFormat is the --log-format value.
type LogFormat string

// The log formats.
const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// ParseLogFormat validates a --log-format value.
func ParseLogFormat(s string) (LogFormat, error) {
	switch f := LogFormat(strings.ToLower(s)); f {
	case LogText, LogJSON:
		return f, nil
	}
	return "", fmt.Errorf("--%s %q: want text or json", FlagLogFormat, s)
}

// ParseLogLevel validates a --log-level value: debug, info, warn or error
// (any case; slog's offsets such as "info+2" are accepted too).
func ParseLogLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--%s %q: want debug, info, warn or error", FlagLogLevel, s)
	}
	return level, nil
}

// NewLogger returns a logger writing to w in format, and the LevelVar that
// sets its level, starting at level, so the level can change at run time.
// The logger is passed to every component; nothing logs through a global.
func NewLogger(w io.Writer, format LogFormat, level slog.Level) (*slog.Logger, *slog.LevelVar) {
	levelVar := new(slog.LevelVar)
	levelVar.Set(level)
	opts := &slog.HandlerOptions{Level: levelVar}
	if format == LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), levelVar
	}
	return slog.New(slog.NewTextHandler(w, opts)), levelVar
}
