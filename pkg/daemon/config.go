package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// Diagnostic is what every daemon's generated Diagnostic message has: a
// problem of the configuration file at file:line:col. S is the daemon's
// generated Severity enum.
type Diagnostic[S any] interface {
	GetSeverity() S
	GetFile() string
	GetLine() uint32
	GetColumn() uint32
	GetPath() string
	GetMessage() string
}

// LoadConfig reads the configuration file for `run` and checks it with
// check, the daemon's own (the same as its validate and reload use). A
// file with errors starts nothing: the error lists the diagnostics as
// render prints them (file:line:col). Warnings are logged.
func LoadConfig[C any, S any, D Diagnostic[S]](file string, logger *slog.Logger,
	check func(file string, src []byte) (*C, []D), render func([]D) string) (*C, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the configuration: %w (give its path with --%s)", err, FlagConfig)
	}
	cfg, diags := check(file, src)
	if cfg == nil {
		return nil, fmt.Errorf("the configuration has errors, nothing started:\n%s", render(diags))
	}
	for _, d := range diags {
		logger.Warn("configuration warning", "file", d.GetFile(), "line", d.GetLine(), "column", d.GetColumn(),
			"path", d.GetPath(), "msg", d.GetMessage())
	}
	return cfg, nil
}

// LogReload logs the outcome of a reload on SIGHUP, where no client reads
// the answer: err, or the diagnostics and the changes applied (a reload's
// response has both, whatever the daemon).
func LogReload[S any, D Diagnostic[S]](logger *slog.Logger, diags []D, changes []string, err error) {
	if err != nil {
		logger.Error("reload failed", "err", err)
		return
	}
	for _, d := range diags {
		logger.Warn("reload: configuration problem", "severity", d.GetSeverity(), "file", d.GetFile(), "line", d.GetLine(),
			"column", d.GetColumn(), "path", d.GetPath(), "msg", d.GetMessage())
	}
	for _, change := range changes {
		logger.Info("reload: applied", "change", change)
	}
}

// ReloadResponse is what every daemon's generated ReloadResponse has.
type ReloadResponse[D any] interface {
	GetDiagnostics() []D
	GetChanges() []string
}

// ReloadOnSignal returns the Lifecycle's Reload of a daemon whose API
// reloads with reload (its server's Reload method) called with req: the
// same reload as the `reload` command's, its outcome logged (LogReload).
func ReloadOnSignal[Req any, Resp ReloadResponse[D], D Diagnostic[S], S any](logger *slog.Logger,
	reload func(context.Context, Req) (Resp, error), req Req) func(context.Context) {
	return func(ctx context.Context) {
		resp, err := reload(ctx, req)
		if err != nil {
			LogReload[S, D](logger, nil, nil, err)
			return
		}
		LogReload[S](logger, resp.GetDiagnostics(), resp.GetChanges(), nil)
	}
}
