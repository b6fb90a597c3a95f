package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/ctsyncd/internal/server"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// The guide's configurations (Examples 4-5 and 4-8, braces restored as
// the config package reads them), and one with every node.
const (
	example45 = "testdata/example-4-5-conntrack-sync-cluster.conf"
	example48 = "testdata/example-4-8-conntrack-sync-vrrp.conf"
	everyNode = "testdata/every-node.conf"
)

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

// runCLI runs ctsyncd with args and returns what it printed and the
// error (an exit code is an error, never an os.Exit).
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	app.ExitErrHandler = func(*cli.Context, error) {}
	err = app.RunContext(t.Context(), append([]string{name}, args...))
	return out.String(), errOut.String(), err
}

// cliEngine is enough of an engine for the CLI: the guide's R1, PRIMARY,
// holding Example 4-13's first rows and expectation.
type cliEngine struct {
	mu       sync.Mutex
	st       engine.Status
	snap     engine.Snapshot
	applied  int
	resets   []engine.Which
	restarts int
}

func (e *cliEngine) Apply(context.Context, *config.Config) ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.applied++
	return []string{"expect-sync none -> ftp"}, nil
}
func (e *cliEngine) Status(context.Context) (engine.Status, error) { return e.st, nil }
func (e *cliEngine) Cache(_ context.Context, _ engine.Which, main, expect bool) (engine.Snapshot, error) {
	var s engine.Snapshot
	if main {
		s.Main = e.snap.Main
	}
	if expect {
		s.Expect = e.snap.Expect
	}
	return s, nil
}
func (e *cliEngine) Reset(_ context.Context, w engine.Which) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resets = append(e.resets, w)
	return nil
}
func (e *cliEngine) Restart(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.restarts++
	return nil
}
func (e *cliEngine) Subscribe() (<-chan engine.Event, func()) {
	return make(chan engine.Event), func() {}
}

func guideSnapshot() engine.Snapshot {
	a := netip.MustParseAddr
	orig := ct.Tuple{Src: a("172.16.139.131"), Dst: a("172.16.117.133"), Proto: ct.ProtoTCP, SrcPort: 55776, DstPort: 21}
	reply := ct.Tuple{Src: orig.Dst, Dst: orig.Src, Proto: ct.ProtoTCP, SrcPort: 21, DstPort: 55776}
	all := a("255.255.255.255")
	return engine.Snapshot{
		Main: []ct.Entry{{Orig: orig, Reply: reply, Status: ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed, Timeout: 431999}},
		Expect: []ct.Expect{{Master: orig,
			Tuple: ct.Tuple{Src: orig.Src, Dst: orig.Dst, Proto: ct.ProtoTCP, DstPort: 54249},
			Mask:  ct.Tuple{Src: all, Dst: all, Proto: 0xff, DstPort: 0xffff}, Timeout: 295, Helper: "ftp"}},
	}
}

// serve runs the API over a fake engine in a fresh run directory and
// returns the engine and the flags that reach it.
func serve(t *testing.T, conf string) (*cliEngine, []string) {
	t.Helper()
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	eng := &cliEngine{snap: guideSnapshot(), st: engine.Status{
		Configured: true, Config: cfg, Now: time.Now(), Mode: engine.ModePrimary, Since: time.Now().Add(-time.Minute),
		Channel: engine.Channel{Interface: "eth1", Destination: "225.0.0.50:3780", Up: true},
		Main:    engine.Tables{InternalLen: 1},
	}}
	// Not t.TempDir(): a test's long name would pass the 108 bytes of a
	// socket path.
	runDir, err := os.MkdirTemp("", "ctsyncd-cli-")
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
	ctsyncv1.RegisterCtsyncServer(srv, server.New(eng, server.Options{ConfigFile: conf, Logs: daemon.NewLogRing(16)}))
	go func() { _ = srv.Serve(lis) }() // Stop ends it
	t.Cleanup(srv.Stop)
	return eng, []string{"--run-dir", runDir, "--config", conf}
}

// TestClientCommands: each command reaches the daemon and prints the
// guide's text, or JSON with --json; the guide's misspelling works too
// (CS-O04).
func TestClientCommands(t *testing.T) {
	clearEnv(t)
	eng, flags := serve(t, everyNode)
	row := "172.16.139.131 :55776                172.16.117.133 :21                    tcp [6]"
	tests := []struct {
		args []string
		want string // a line of the text output
		not  string // a text that must not be printed
	}{
		{[]string{"show", "conntrack-sync", "status"}, "failover-mechanism  : vrrp [sync-group TESTING]", ""},
		{[]string{"show", "conntrack-sync", "internal-cache"}, "Expect Table Entries:", ""},
		{[]string{"show", "conntrack-sync", "internal-cache", "main"}, row, "Main Table Entries:"},
		{[]string{"show", "conntrack-sync", "internal-cache", "expect"}, "172.16.139.131 :any", "tcp [6]\n172"},
		{[]string{"show", "conntrack-sync", "external-cache"}, row, ""},
		{[]string{"show", "conntrack-sync", "statistics"}, "Expect Table Statistics:", ""},
		{[]string{"show", "conntrack-sync", "statistics", "main"}, "Main Table Statistics:", "Expect Table"},
		{[]string{"show", "log", "conntrack-sync"}, "", ""},
		{[]string{"reset", "conntrack-sync", "internal-cache"}, "Internal cache: 1 entry and 0 expectations flushed", ""},
		{[]string{"reset", "contrack-sync", "external-cache"}, "External cache: 0 entries and 0 expectations flushed", ""},
		{[]string{"restart", "conntrack-sync"}, "Conntrack-sync restarted", ""},
		{[]string{"restart", "contrack-sync"}, "Conntrack-sync restarted", ""},
		{[]string{"reload"}, "expect-sync none -> ftp", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			out, _, err := runCLI(t, append(slices.Clone(flags), tt.args...)...)
			if err != nil || !strings.Contains(out, tt.want) || (tt.not != "" && strings.Contains(out, tt.not)) {
				t.Errorf("ctsyncd %s = %q, %v; want a line %q and no %q", strings.Join(tt.args, " "), out, err, tt.want, tt.not)
			}
			if strings.Contains(out, "a sync secret") {
				t.Errorf("ctsyncd %s shows the secret:\n%s", strings.Join(tt.args, " "), out)
			}
			out, _, err = runCLI(t, append(append(slices.Clone(flags), tt.args...), "--json")...)
			var v map[string]any
			if err != nil || json.Unmarshal([]byte(out), &v) != nil {
				t.Errorf("ctsyncd %s --json = %q, %v; want a JSON object", strings.Join(tt.args, " "), out, err)
			}
		})
	}
	if len(eng.resets) != 4 || eng.restarts != 4 || eng.applied != 2 {
		t.Errorf("engine got %d resets, %d restarts, %d applies; want 4, 4, 2 (text and --json each)", len(eng.resets), eng.restarts, eng.applied)
	}
	for _, args := range [][]string{
		{"show", "conntrack-sync", "status", "extra"},
		{"show", "conntrack-sync", "internal-cache", "both"},
		{"show", "conntrack-sync", "statistics", "main", "expect"},
		{"reset", "conntrack-sync", "internal-cache", "now"},
	} {
		if _, _, err := runCLI(t, append(slices.Clone(flags), args...)...); err == nil {
			t.Errorf("ctsyncd %s succeeded", strings.Join(args, " "))
		}
	}
}

// TestCS_O04_TypoHidden: the guide's `contrack-sync` works but is not
// offered in the help.
func TestCS_O04_TypoHidden(t *testing.T) {
	clearEnv(t)
	for _, cmd := range []string{"reset", "restart", "monitor"} {
		out, _, err := runCLI(t, cmd, "--help")
		if err != nil || !strings.Contains(out, "conntrack-sync") || strings.Contains(out, "contrack-sync") {
			t.Errorf("%s --help = %q, %v; want conntrack-sync offered, contrack-sync hidden", cmd, out, err)
		}
	}
}

// TestValidateCommand checks files without a daemon: the guide's examples
// pass, a broken one fails with file:line:col, --json parses.
func TestValidateCommand(t *testing.T) {
	clearEnv(t)
	for _, f := range []string{example45, example48, everyNode} {
		out, _, err := runCLI(t, "validate", f)
		if err != nil || out != "Configuration valid.\n" {
			t.Errorf("validate %s: %q, %v; want it valid", f, out, err)
		}
	}
	src, err := os.ReadFile(everyNode)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.conf")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(src), "mcast-group 239.1.2.3", "mcast-group 255.0.0.50", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "validate", broken)
	if err == nil || !strings.HasPrefix(out, broken+":23:") || !strings.Contains(out, "225.0.0.50") || strings.Contains(out, "a sync secret") {
		t.Errorf("validate (CS-Q01 typo): %q, %v; want %s:23:col: ... 225.0.0.50 and a failure, no secret", out, err, broken)
	}
	out, _, err = runCLI(t, "validate", "--json", broken)
	var resp struct {
		Diagnostics []struct{ Severity, Message string }
	}
	if jerr := json.Unmarshal([]byte(out), &resp); jerr != nil || err == nil || len(resp.Diagnostics) != 1 ||
		resp.Diagnostics[0].Severity != "SEVERITY_ERROR" {
		t.Errorf("validate --json: %q, %v, %v", out, err, jerr)
	}
	if _, _, err := runCLI(t, "validate"); err == nil {
		t.Error("validate without a file succeeded")
	}
	if _, _, err := runCLI(t, "validate", filepath.Join(t.TempDir(), "missing.conf")); err == nil {
		t.Error("validate of a missing file succeeded")
	}
}

// TestNoDaemon: every command that needs the daemon says, when none runs,
// which daemon it looked for, where, and to check it runs.
func TestNoDaemon(t *testing.T) {
	clearEnv(t)
	runDir := t.TempDir()
	for _, args := range [][]string{
		{"show", "conntrack-sync", "status"},
		{"show", "conntrack-sync", "internal-cache"},
		{"show", "conntrack-sync", "statistics"},
		{"show", "log", "conntrack-sync"},
		{"reset", "conntrack-sync", "external-cache"},
		{"restart", "conntrack-sync"},
		{"reload"},
		{"monitor", "conntrack-sync"},
	} {
		_, _, err := runCLI(t, append([]string{"--run-dir", runDir}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "ctsyncd") || !strings.Contains(err.Error(), "running") ||
			!strings.Contains(err.Error(), runDir) {
			t.Errorf("ctsyncd %s without a daemon: %v, want an error naming ctsyncd, its socket and asking if it runs", strings.Join(args, " "), err)
		}
	}
}

// TestWatch: watch streams the followed group from its producer (here a
// vrrpd's bus for Example 4-8's sync group), until interrupted; without a
// producer it says which one it looked for.
func TestWatch(t *testing.T) {
	clearEnv(t)
	runDir, err := os.MkdirTemp("", "ctsyncd-watch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	flags := []string{"--run-dir", runDir, "--config", example48}
	if _, _, err := runCLI(t, append(flags, "watch")...); err == nil || !strings.Contains(err.Error(), "vrrpd") {
		t.Errorf("watch without vrrpd: %v, want an error naming vrrpd", err)
	}

	socket := bus.SocketPath(runDir, "vrrpd")
	lis, err := bus.Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	producer := bus.NewProducer("vrrpd", nil)
	if err := producer.Publish("sync-group/TESTING", busv1.State_STATE_MASTER, "priority 200"); err != nil {
		t.Fatal(err)
	}
	if err := producer.Publish("eth0/99", busv1.State_STATE_MASTER, "priority 200"); err != nil {
		t.Fatal(err)
	}
	srv := bus.NewServer(socket, nil)
	busv1.RegisterFailoverServer(srv, producer)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	t.Cleanup(producer.Close)

	// Interrupted by a cancel once the snapshot has ended, as Ctrl-C
	// does (a deadline would travel to the server as grpc-timeout and
	// could end the stream there first).
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	defer time.AfterFunc(20*time.Second, cancel).Stop()
	app := newApp()
	out := &cancelWriter{cancel: cancel, when: "endOfSnapshot"}
	app.Writer, app.ErrWriter = out, new(bytes.Buffer)
	err = app.RunContext(ctx, append([]string{name}, append(flags, "watch")...))
	if got := out.String(); err != nil || !strings.Contains(got, `"sync-group/TESTING"`) || !strings.Contains(got, "endOfSnapshot") ||
		strings.Contains(got, "eth0/99") {
		t.Errorf("watch = %q, %v; want the sync group's status only, then the end of the snapshot", got, err)
	}

	if _, _, err := runCLI(t, "--run-dir", runDir, "--config", filepath.Join(t.TempDir(), "none.conf"), "watch"); err == nil ||
		!strings.Contains(err.Error(), "--config") {
		t.Errorf("watch without a configuration: %v, want a hint at --config", err)
	}
}

// cancelWriter collects a command's output and calls cancel once it
// holds when.
type cancelWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	cancel func()
	when   string
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.b.Write(p)
	if strings.Contains(w.b.String(), w.when) {
		w.cancel()
	}
	return n, err
}

func (w *cancelWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestRunRefusesBadConfig: a file with errors stops `run` before anything
// is touched, with the errors' places, and without the secret.
func TestRunRefusesBadConfig(t *testing.T) {
	clearEnv(t)
	src, err := os.ReadFile(everyNode)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "ctsyncd.conf")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(src), "keepalive-interval 500", "keepalive-interval 5000", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	_, _, err = runCLI(t, "--config", bad, "--run-dir", runDir, "run")
	if err == nil || !strings.Contains(err.Error(), bad+":") || !strings.Contains(err.Error(), "nothing started") ||
		strings.Contains(err.Error(), "a sync secret") {
		t.Errorf("run with keepalive-interval over dead-interval: %v; want file:line:col and nothing started", err)
	}
	if _, err := os.Stat(runDir); err == nil {
		t.Error("run created its run directory before refusing the configuration")
	}
	_, _, err = runCLI(t, "--config", filepath.Join(dir, "missing.conf"), "--run-dir", runDir, "run")
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("run without a configuration file: %v, want a hint at --config", err)
	}
	if _, _, err := runCLI(t, "--config", bad, "--run-dir", runDir, "run", "extra"); err == nil {
		t.Error("run with an argument succeeded")
	}
}
