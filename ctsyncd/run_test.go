package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// TestCS_C01_RunUnconfigured: without service conntrack-sync the daemon
// runs, touches nothing and says so; the commands that need sync say it
// is not configured; a reload of a broken file is refused with its place;
// the end of the context stops it cleanly. (With sync configured the
// daemon needs the kernel: deploy/systemd's privileged test runs it.)
func TestCS_C01_RunUnconfigured(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "ctsyncd.conf")
	if err := os.WriteFile(conf, []byte("service {\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir, err := os.MkdirTemp("", "ctsyncd-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	opts := daemon.Options{Name: name, ConfigFile: conf, RunDir: runDir, ScriptsDir: dir, StateDir: dir,
		LogFormat: daemon.LogText, LogLevel: slog.LevelDebug}
	logs := daemon.NewLogRing(64)
	logger := slog.New(logs.Handler(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, opts, logger, logs) }()

	flags := []string{"--run-dir", runDir, "--config", conf}
	netlab.WaitFor(t, 20*time.Second, func() (bool, string) {
		out, _, err := runCLI(t, append(flags, "show", "conntrack-sync", "status")...)
		return err == nil && out == "Conntrack-sync is not configured.\n", out
	})
	for _, args := range [][]string{
		{"show", "conntrack-sync", "statistics"},
		{"show", "conntrack-sync", "internal-cache"},
	} {
		if out, _, err := runCLI(t, append(flags, args...)...); err != nil || out != "Conntrack-sync is not configured.\n" {
			t.Errorf("%s: %q, %v; want it not configured", strings.Join(args, " "), out, err)
		}
	}
	if _, _, err := runCLI(t, append(flags, "restart", "conntrack-sync")...); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("restart without sync configured: %v, want an error saying so", err)
	}
	if out, _, err := runCLI(t, append(flags, "show", "log", "conntrack-sync")...); err != nil || !strings.Contains(out, "no service conntrack-sync") {
		t.Errorf("show log: %q, %v; want the warning that nothing is synced", out, err)
	}
	if err := os.WriteFile(conf, []byte("service {\n    conntrack-sync {\n        interface\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, append(flags, "reload")...)
	if err == nil || !strings.HasPrefix(out, conf+":3:") || !strings.Contains(out, "not applied") {
		t.Errorf("reload of a broken file: %q, %v; want %s:3:col and not applied", out, err, conf)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if _, _, err := runCLI(t, append(flags, "show", "conntrack-sync", "status")...); err == nil {
		t.Error("the API still answers after run returned")
	}
}
