package daemon

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		format LogFormat
		check  func(t *testing.T, out string)
	}{
		{LogText, func(t *testing.T, out string) {
			if !strings.Contains(out, `level=INFO msg="state changed" group=eth0/99`) {
				t.Errorf("text output %q lacks the record", out)
			}
		}},
		{LogJSON, func(t *testing.T, out string) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(out), &rec); err != nil {
				t.Fatalf("json output %q: %v", out, err)
			}
			if rec["msg"] != "state changed" || rec["group"] != "eth0/99" || rec["level"] != "INFO" {
				t.Errorf("json record %v", rec)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var buf bytes.Buffer
			log, level := NewLogger(&buf, tt.format, slog.LevelInfo)
			log.Debug("hidden at info")
			log.Info("state changed", "group", "eth0/99")
			tt.check(t, strings.TrimSpace(buf.String()))

			buf.Reset()
			level.Set(slog.LevelDebug)
			log.Debug("visible at debug")
			if !strings.Contains(buf.String(), "visible at debug") {
				t.Error("lowering the LevelVar did not enable debug lines")
			}
		})
	}
}

func TestParseLogLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"INFO", slog.LevelInfo, false},
		{"warn", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"loud", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLogLevel(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLogLevel(%q) = %v, %v", tt.in, got, err)
		}
	}
}
