//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// The helpers of vrrpd_test.go, copied under ops names so that the
// operational commands' test stands alone.

// opsPatience bounds every wait; elections take seconds.
const opsPatience = 30 * time.Second

// opsConfig is the guide's Example 2-1/2-2 group 99, with its VRRP
// interface eth0v99.
func opsConfig(priority int) string {
	return fmt.Sprintf(`interfaces {
	ethernet eth0 {
		vrrp {
			vrrp-group 99 {
				advertise-interval 1
				preempt true
				priority %d
				rfc3768-compatibility
				virtual-address 172.16.0.24/24
			}
		}
	}
}
`, priority)
}

func opsBinary(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Fatal("HASUITE_BIN is not set: build vrrpd with `make e2e`, or `go build -o DIR/vrrpd ./vrrpd` and set HASUITE_BIN=DIR")
	}
	path := filepath.Join(dir, "vrrpd")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no vrrpd binary: %v", err)
	}
	return path
}

// opsRouter is one vrrpd, logging at info, in a lab node.
type opsRouter struct {
	node       *netlab.Node
	bin        string
	configFile string
	runDir     string
	proc       *netlab.Process
}

func opsStartRouter(t *testing.T, bin string, node *netlab.Node, priority int) *opsRouter {
	t.Helper()
	dir := t.TempDir()
	r := &opsRouter{node: node, bin: bin, configFile: filepath.Join(dir, "vrrpd.conf"), runDir: filepath.Join(dir, "run")}
	r.write(t, opsConfig(priority))
	var err error
	r.proc, err = node.Start(t.Context(), bin, "--config", r.configFile, "--run-dir", r.runDir,
		"--scripts-dir", dir, "--log-level", "info", "run")
	if err != nil {
		t.Fatalf("start vrrpd on %s: %v", node.Name(), err)
	}
	return r
}

func (r *opsRouter) write(t *testing.T, src string) {
	t.Helper()
	if err := os.WriteFile(r.configFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cli runs `vrrpd --run-dir DIR args...`; unix sockets need no namespace.
func (r *opsRouter) cli(ctx context.Context, args ...string) (string, int) {
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--run-dir", r.runDir}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		return err.Error(), -1
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// query runs a --json command and decodes its answer into msg.
func (r *opsRouter) query(ctx context.Context, msg proto.Message, args ...string) error {
	out, code := r.cli(ctx, append(args, "--json")...)
	if code != 0 {
		return fmt.Errorf("%s exited %d: %s", strings.Join(args, " "), code, out)
	}
	return protojson.Unmarshal([]byte(out), msg)
}

func (r *opsRouter) group(ctx context.Context) (*vrrpv1.Group, error) {
	var resp vrrpv1.ShowVrrpResponse
	if err := r.query(ctx, &resp, "show", "vrrp"); err != nil {
		return nil, err
	}
	if len(resp.Groups) != 1 {
		return nil, fmt.Errorf("show vrrp lists %d groups, want 1", len(resp.Groups))
	}
	return resp.Groups[0], nil
}

func (r *opsRouter) waitState(t *testing.T, want vrrpv1.State) {
	t.Helper()
	netlab.WaitFor(t, opsPatience, func() (bool, string) {
		if r.proc.Exited() {
			return false, "vrrpd exited:\n" + r.proc.Output()
		}
		g, err := r.group(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return g.State == want, fmt.Sprintf("%s is %s", r.node.Name(), g.State)
	})
}

func (r *opsRouter) statistics(t *testing.T) *vrrpv1.GroupStatistics {
	t.Helper()
	var resp vrrpv1.ShowStatisticsResponse
	if err := r.query(t.Context(), &resp, "show", "vrrp", "statistics"); err != nil || len(resp.Groups) != 1 {
		t.Fatalf("show vrrp statistics: %v (%d groups)", err, len(resp.Groups))
	}
	return resp.Groups[0]
}

func (r *opsRouter) log(t *testing.T, args ...string) []*vrrpv1.LogRecord {
	t.Helper()
	var resp vrrpv1.ShowLogResponse
	if err := r.query(t.Context(), &resp, append([]string{"show", "log", "vrrp"}, args...)...); err != nil {
		t.Fatalf("show log vrrp: %v", err)
	}
	return resp.Records
}

// monitor starts `vrrpd monitor vrrp args...` in r's node and waits until
// it streams.
func (r *opsRouter) monitor(t *testing.T, args ...string) *netlab.Process {
	t.Helper()
	p, err := r.node.Start(t.Context(), r.bin, append([]string{"--run-dir", r.runDir, "monitor", "vrrp"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	p.WaitOutput(t, opsPatience, "Monitoring VRRP")
	return p
}

func opsNewLab(t *testing.T) *netlab.Lab {
	netlab.RequirePrivileged(t)
	return netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "r1", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.2/24"}}}},
			{Name: "r2", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.3/24"}}}},
		},
	})
}

// TestVR_O06_O07_O08_O09_OperationalCommands drives a running vrrpd with
// the operational commands: `monitor vrrp` (and --debug) streams live,
// `debug vrrp on|off` moves the log level, `restart vrrp` refuses a bad
// file and otherwise resigns with priority 0 and starts again from INIT,
// `show log vrrp` tells it, `show interfaces vrrp` has the kernel's
// counters, and monitors end cleanly on SIGINT and when the daemon stops.
func TestVR_O06_O07_O08_O09_OperationalCommands(t *testing.T) {
	bin := opsBinary(t)
	lab := opsNewLab(t)
	r1 := opsStartRouter(t, bin, lab.Node("r1"), 150)
	r2 := opsStartRouter(t, bin, lab.Node("r2"), 20)
	r1.waitState(t, vrrpv1.State_STATE_MASTER)
	r2.waitState(t, vrrpv1.State_STATE_BACKUP)

	t.Log("VR-O09: monitors, one with debug records although the daemon logs at info")
	text := r1.monitor(t)
	debugJSON := r1.monitor(t, "--json", "--debug")
	debugJSON.WaitOutput(t, opsPatience, `"VRRP event"`)
	if slices.ContainsFunc(r1.log(t), func(r *vrrpv1.LogRecord) bool { return r.Level == "DEBUG" }) {
		t.Error("a debug monitor put debug records in the daemon's log")
	}

	t.Log("VR-O09: debug vrrp on|off")
	if out, code := r1.cli(t.Context(), "debug", "vrrp", "on"); code != 0 || !strings.Contains(out, "debug logging on") {
		t.Fatalf("debug vrrp on: exit %d, %q", code, out)
	}
	netlab.WaitFor(t, opsPatience, func() (bool, string) {
		return slices.ContainsFunc(r1.log(t), func(r *vrrpv1.LogRecord) bool { return r.Level == "DEBUG" }), "no DEBUG record in show log yet"
	})
	if out, code := r1.cli(t.Context(), "monitor", "vrrp", "background", "stop"); code != 0 || !strings.Contains(out, "debug logging off") {
		t.Fatalf("monitor vrrp background stop: exit %d, %q", code, out)
	}

	t.Log("VR-O06: a bad file refuses the restart and changes nothing")
	r1.write(t, opsConfig(300))
	if out, code := r1.cli(t.Context(), "restart", "vrrp"); code != 1 || !strings.Contains(out, r1.configFile+":") ||
		!strings.Contains(out, "nothing restarted") {
		t.Errorf("restart with a bad file: exit %d, %q; want 1, the error's place and that nothing restarted", code, out)
	}
	if g, err := r1.group(t.Context()); err != nil || g.State != vrrpv1.State_STATE_MASTER || g.Priority != 150 {
		t.Errorf("after a refused restart: %v, %v; want MASTER with priority 150", g, err)
	}

	t.Log("VR-O06: restart resigns (priority 0), re-reads the file and starts from INIT")
	p0Before := r2.statistics(t).PriorityZeroReceived
	r1.write(t, opsConfig(160))
	if out, code := r1.cli(t.Context(), "restart", "vrrp", "process"); code != 0 || !strings.Contains(out, "Restarted VRRP") {
		t.Fatalf("restart vrrp process: exit %d, %q", code, out)
	}
	text.WaitOutput(t, opsPatience, "eth0-99 MASTER -> INIT")
	text.WaitOutput(t, opsPatience, "eth0-99 INIT -> BACKUP")
	r1.waitState(t, vrrpv1.State_STATE_MASTER) // preempts R2 again
	text.WaitOutput(t, opsPatience, "eth0-99 BACKUP -> MASTER")
	if got := r2.statistics(t).PriorityZeroReceived; got <= p0Before {
		t.Errorf("R2 received %d priority-0 adverts, want more than %d: R1 did not resign", got, p0Before)
	}
	if g, err := r1.group(t.Context()); err != nil || g.Priority != 160 {
		t.Errorf("after restart: %v, %v; want priority 160 from the file", g, err)
	}
	if c := r1.statistics(t); c.BecameMaster != 1 {
		t.Errorf("became master %d times since the restart, want 1 (counters reset)", c.BecameMaster)
	}

	t.Log("VR-O08: show log vrrp")
	records := r1.log(t)
	i := slices.IndexFunc(records, func(r *vrrpv1.LogRecord) bool { return strings.HasPrefix(r.Message, "restarting VRRP") })
	if i < 0 {
		t.Fatalf("show log vrrp lacks the restart: %v", records)
	}
	off := slices.IndexFunc(records, func(r *vrrpv1.LogRecord) bool {
		return r.Message == "log level changed" && slices.ContainsFunc(r.Attrs, func(a *vrrpv1.LogAttr) bool { return a.Value == "INFO" })
	})
	if off < 0 {
		t.Errorf("show log vrrp lacks debug off: %v", records)
	} else if j := slices.IndexFunc(records[off:], func(r *vrrpv1.LogRecord) bool { return r.Level == "DEBUG" }); j >= 0 {
		t.Errorf("debug record after debug off: %v", records[off+j])
	}
	if out, code := r1.cli(t.Context(), "show", "log", "vrrp", "--lines", "3"); code != 0 || strings.Count(out, "\n") != 3 {
		t.Errorf("show log vrrp --lines 3: exit %d, %q", code, out)
	}

	t.Log("VR-O07: show interfaces vrrp has the kernel's MTU and counters")
	var ifaces vrrpv1.ShowInterfacesResponse
	if err := r1.query(t.Context(), &ifaces, "show", "interfaces", "vrrp"); err != nil {
		t.Fatal(err)
	}
	if len(ifaces.Interfaces) != 1 {
		t.Fatalf("show interfaces vrrp: %v, want eth0v99", ifaces.Interfaces)
	}
	// The master's adverts leave through eth0v99: its tx counter moves.
	ifc := ifaces.Interfaces[0]
	if ifc.Name != "eth0v99" || ifc.Mtu != 1500 || ifc.Counters.GetTxPackets() == 0 ||
		!slices.Equal(ifc.Addresses, []string{"172.16.0.24/24"}) {
		t.Errorf("show interfaces vrrp: %v; want eth0v99, MTU 1500, packets sent, the VIP only", ifc)
	}
	if out, code := r1.cli(t.Context(), "show", "interfaces", "vrrp", "detail"); code != 0 || !strings.Contains(out, "MTU:") {
		t.Errorf("show interfaces vrrp detail: exit %d, %q", code, out)
	}

	t.Log("VR-O09: Ctrl-C ends a monitor; so does the daemon going")
	if err := debugJSON.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := opsWait(debugJSON); err != nil {
		t.Errorf("monitor after SIGINT: %v", err)
	}
	if err := r1.proc.Stop(opsPatience); err != nil {
		t.Fatalf("vrrpd did not exit cleanly: %v", err)
	}
	if err := opsWait(text); err != nil {
		t.Errorf("monitor after vrrpd stopped: %v\n%s", err, text.Output())
	}
	if !strings.Contains(text.Output(), "vrrpd stopped") {
		t.Errorf("monitor output does not say vrrpd stopped:\n%s", text.Output())
	}
}

// opsWait waits for a process that should be ending, with a bound.
func opsWait(p *netlab.Process) error {
	select {
	case <-p.Done():
		return p.Wait()
	case <-time.After(opsPatience):
		_ = p.Kill()
		return fmt.Errorf("still running after %v", opsPatience)
	}
}
