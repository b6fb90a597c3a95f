package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/server"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// example34 is the guide's Example 3-4 (R1), as `show cluster` prints it.
const example34 = "testdata/example-3-4-cluster-r1.conf"

// clearEnv unsets every HASUITE_ variable for the test, so the machine's
// environment cannot leak into the cases.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HASUITE_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

// runCLI runs clusterd with args and returns what it printed and the
// error (an exit code is an error, never an os.Exit).
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	app.ExitErrHandler = func(*cli.Context, error) {}
	err = app.Run(append([]string{name}, args...))
	return out.String(), errOut.String(), err
}

// TestGlobalFlags: --node-name, --resource-dir and --init-dir, from the
// command line or the environment, reach the command.
func TestGlobalFlags(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		node     string
		resource []string
		init     string
	}{
		{name: "flags", args: []string{"--node-name", "R1", "--resource-dir", "/x/resource.d", "--init-dir", "/x/init.d"},
			node: "R1", resource: []string{"/x/resource.d"}, init: "/x/init.d"},
		{name: "environment", env: map[string]string{"HASUITE_NODE_NAME": "R2", "HASUITE_RESOURCE_DIR": "/y", "HASUITE_INIT_DIR": "/z"},
			node: "R2", resource: []string{"/y"}, init: "/z"},
		{name: "defaults", node: "", resource: nil, init: "/etc/init.d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			app := newApp()
			app.Writer, app.ErrWriter = new(bytes.Buffer), new(bytes.Buffer)
			var node string
			var svc []string
			var initDir string
			app.Commands = append(app.Commands, &cli.Command{Name: "probe", Action: func(c *cli.Context) error {
				node = c.String(daemon.FlagNodeName)
				o := serviceOptions(c)
				svc, initDir = o.ResourceDirs, o.InitDir
				return nil
			}})
			if err := app.Run(append(append([]string{name}, tt.args...), "probe")); err != nil {
				t.Fatal(err)
			}
			if node != tt.node || !slices.Equal(svc, tt.resource) || initDir != tt.init {
				t.Errorf("node %q, resource dirs %q, init dir %q; want %q, %q, %q", node, svc, initDir, tt.node, tt.resource, tt.init)
			}
		})
	}
}

// TestValidateCommand checks files without a daemon: the guide's example
// passes, a broken one fails with file:line:col, a resource script
// missing from --resource-dir fails (CL-C08c), --json parses.
func TestValidateCommand(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	initDir := initScripts(t)
	// The guide's secret is short: a warning, not an error.
	out, _, err := runCLI(t, "--init-dir", initDir, "validate", example34)
	if err != nil || !strings.Contains(out, "warning: cluster pre-shared-secret") || strings.Count(out, "\n") != 1 {
		t.Errorf("validate Example 3-4: %q, %v; want one warning and success", out, err)
	}

	src, err := os.ReadFile(example34)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.conf")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(src), "dead-interval 10000", "dead-interval 1000", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "validate", broken)
	if err == nil || !strings.HasPrefix(out, broken+":") || strings.Contains(out, "!secret!") {
		t.Errorf("validate (dead-interval below keepalive): %q, %v; want %s:line:col: ... and a failure, no secret", out, err, broken)
	}

	script := filepath.Join(dir, "script.conf")
	if err := os.WriteFile(script, []byte(strings.Replace(string(src), "service ipsec", "service IPaddr2::10.0.0.1/24/eth0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "--resource-dir", t.TempDir(), "--init-dir", initDir, "validate", "--json", script)
	var resp struct {
		Diagnostics []struct{ Severity, Message string }
	}
	if jerr := json.Unmarshal([]byte(out), &resp); jerr != nil || err == nil || len(resp.Diagnostics) != 2 ||
		resp.Diagnostics[1].Severity != "SEVERITY_ERROR" || !strings.Contains(resp.Diagnostics[1].Message, "IPaddr2") {
		t.Errorf("validate --json (missing resource script): %q, %v, %v", out, err, jerr)
	}

	if _, _, err := runCLI(t, "validate"); err == nil {
		t.Error("validate without a file succeeded")
	}
}

// initScripts is an init directory holding the guide's ipsec script.
func initScripts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ipsec"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cliEngine is enough of an engine for the CLI: the guide's R1 holding
// the resources.
type cliEngine struct {
	st      engine.Status
	applied int
}

func (e *cliEngine) Apply(context.Context, *config.Config) ([]string, error) {
	e.applied++
	return []string{"keepalive-interval 2s -> 1s"}, nil
}
func (e *cliEngine) Status(context.Context) (engine.Status, error) { return e.st, nil }
func (e *cliEngine) Standby(context.Context) error                 { return nil }
func (e *cliEngine) Takeover(context.Context) error                { return nil }
func (e *cliEngine) Subscribe() (<-chan engine.Event, func()) {
	return make(chan engine.Event), func() {}
}

// serve runs the API over a fake engine in a fresh run directory and
// returns the flags that reach it.
func serve(t *testing.T) []string {
	t.Helper()
	cfg, err := config.Load(example34)
	if err != nil {
		t.Fatal(err)
	}
	eng := &cliEngine{st: engine.Status{
		Configured: true, NodeName: "R1", Config: cfg, Now: time.Now(),
		View: fsm.View{State: fsm.Active, Local: fsm.NodeActive, Peer: fsm.NodeActiveStandby, Holder: fsm.HolderLocal, Phase: fsm.Held},
	}}
	// Not t.TempDir(): a test's long name would pass the 108 bytes of a
	// socket path.
	runDir, err := os.MkdirTemp("", "clusterd-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	socket := bus.SocketPath(runDir, name)
	lis, err := bus.Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := bus.NewServer(socket, nil)
	ring := daemon.NewLogRing(16)
	clusterv1.RegisterClusterServer(srv, server.New(eng, server.Options{
		ConfigFile: example34, Logs: ring, Services: resources.Options{InitDir: initScripts(t)},
	}))
	go func() { _ = srv.Serve(lis) }() // Stop ends it
	t.Cleanup(srv.Stop)
	return []string{"--run-dir", runDir}
}

// TestClientCommands: each command reaches the daemon and prints the
// guide's text, or JSON with --json.
func TestClientCommands(t *testing.T) {
	clearEnv(t)
	flags := serve(t)
	tests := []struct {
		args []string
		want string // a line of the text output
	}{
		{[]string{"show", "cluster", "status"}, "  Active on primary R1 (this node)"},
		{[]string{"show", "cluster", "nodes"}, "Node R1 (this node): primary, Active"},
		{[]string{"show", "cluster", "statistics"}, "Cluster group cluster1 on R1, counting since"},
		{[]string{"show", "log", "cluster"}, ""},
		{[]string{"reload"}, "keepalive-interval 2s -> 1s"},
		{[]string{"standby"}, "Releasing the resources of R1 to R2."},
		{[]string{"takeover"}, "Taking the resources on R1."},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			out, _, err := runCLI(t, append(flags, tt.args...)...)
			if err != nil || !strings.Contains(out, tt.want) {
				t.Errorf("clusterd %s = %q, %v; want a line %q", strings.Join(tt.args, " "), out, err, tt.want)
			}
			if strings.Contains(out, "!secret!") {
				t.Errorf("clusterd %s shows the secret (CL-C13):\n%s", strings.Join(tt.args, " "), out)
			}
			args := append(slices.Clone(flags), tt.args...)
			out, _, err = runCLI(t, append(args, "--json")...)
			var v map[string]any
			if err != nil || json.Unmarshal([]byte(out), &v) != nil {
				t.Errorf("clusterd %s --json = %q, %v; want a JSON object", strings.Join(tt.args, " "), out, err)
			}
		})
	}
	if _, _, err := runCLI(t, append(flags, "show", "cluster", "status", "extra")...); err == nil {
		t.Error("show cluster status with an extra argument succeeded")
	}
}

// TestNoDaemon: a command with no daemon behind the socket says so.
func TestNoDaemon(t *testing.T) {
	clearEnv(t)
	_, _, err := runCLI(t, "--run-dir", t.TempDir(), "show", "cluster", "status")
	if err == nil || !strings.Contains(err.Error(), "clusterd") {
		t.Errorf("show cluster status without a daemon: %v, want an error naming clusterd", err)
	}
}

// TestRunRefusesBadConfig: a file with errors stops `run` before anything
// is touched, with the errors' places, and without the secret (CL-C13).
func TestRunRefusesBadConfig(t *testing.T) {
	clearEnv(t)
	src, err := os.ReadFile(example34)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "clusterd.conf")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(src), "keepalive-interval 2000", "keepalive-interval 20000", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	_, _, err = runCLI(t, "--config", bad, "--run-dir", runDir, "--state-dir", filepath.Join(dir, "state"), "--node-name", "R1", "run")
	if err == nil || !strings.Contains(err.Error(), bad+":") || !strings.Contains(err.Error(), "nothing started") ||
		strings.Contains(err.Error(), "!secret!") {
		t.Errorf("run with dead-interval below keepalive: %v; want file:line:col and nothing started", err)
	}
	if _, err := os.Stat(runDir); err == nil {
		t.Error("run created its run directory before refusing the configuration")
	}
	_, _, err = runCLI(t, "--config", filepath.Join(dir, "missing.conf"), "--run-dir", runDir, "run")
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("run without a configuration file: %v, want a hint at --config", err)
	}
}
