//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// cli runs `vrrpd --run-dir DIR args...` and returns its output and exit
// status.
func (r *router) cli(ctx context.Context, args ...string) (string, int) {
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--run-dir", r.runDir}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		return err.Error(), -1
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func (r *router) priority(ctx context.Context) (uint32, error) {
	out, code := r.cli(ctx, "show", "vrrp", "--json")
	if code != 0 {
		return 0, fmt.Errorf("show vrrp exited %d: %s", code, out)
	}
	var resp vrrpv1.ShowVrrpResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return 0, err
	}
	return resp.Groups[0].Priority, nil
}

func (r *router) waitPriority(t *testing.T, want uint32) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		got, err := r.priority(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return got == want, fmt.Sprintf("priority %d", got)
	})
}

// TestVR_B33_O05_ReloadResetAndValidateFromTheCommandLine drives a running
// vrrpd with the client commands: reload applies a valid file and refuses
// an invalid one (keeping the running configuration), SIGHUP reloads too,
// `reset vrrp master` refuses a group that is not MASTER, and validate
// names the error's place without a daemon.
func TestVR_B33_O05_ReloadResetAndValidateFromTheCommandLine(t *testing.T) {
	bin := binary(t)
	lab := newLab(t)
	r1 := startRouter(t, bin, lab.Node("r1"), 150, "")
	configFile := filepath.Join(filepath.Dir(r1.runDir), "vrrpd.conf")
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(configFile, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r1.waitPriority(t, 150)

	write(routerConfig(200, ""))
	if out, code := r1.cli(t.Context(), "reload"); code != 0 || !strings.Contains(out, "eth0/99: changed") {
		t.Errorf("reload of a valid file: exit %d, output %q; want 0 and the change", code, out)
	}
	r1.waitPriority(t, 200)

	write(strings.Replace(routerConfig(200, ""), "priority 200", "priority 300", 1))
	if out, code := r1.cli(t.Context(), "reload"); code != 1 || !strings.Contains(out, configFile+":") {
		t.Errorf("reload of an invalid file: exit %d, output %q; want 1 and the error's place", code, out)
	}
	if out, code := r1.cli(t.Context(), "validate", configFile); code != 1 || !strings.Contains(out, "300 out of range") {
		t.Errorf("validate of an invalid file: exit %d, output %q; want 1 and the error", code, out)
	}
	if p, err := r1.priority(t.Context()); err != nil || p != 200 {
		t.Errorf("priority %d (%v) after a refused reload, want 200 kept", p, err)
	}

	write(routerConfig(120, ""))
	if err := r1.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r1.waitPriority(t, 120)

	r1.waitState(t, vrrpv1.State_STATE_MASTER)
	if out, code := r1.cli(t.Context(), "reset", "vrrp", "master", "interface", "eth0", "group", "99"); code != 0 ||
		!strings.Contains(out, "Forcing eth0-99 to BACKUP") {
		t.Errorf("reset of the master: exit %d, output %q", code, out)
	}
	if out, code := r1.cli(t.Context(), "reset", "vrrp", "master", "interface", "eth0", "group", "7"); code != 1 {
		t.Errorf("reset of an unknown group: exit %d, output %q; want 1", code, out)
	}

	for _, cmd := range []struct{ args, want string }{
		{"show vrrp detail", "Interface: eth0"},
		{"show vrrp interface eth0 group 99", "Interface: eth0"},
		{"show vrrp statistics", "Became master"},
	} {
		if out, code := r1.cli(t.Context(), strings.Fields(cmd.args)...); code != 0 || !strings.Contains(out, cmd.want) {
			t.Errorf("%s: exit %d, output %q; want 0 and %q", cmd.args, code, out, cmd.want)
		}
	}
	stopped := &router{bin: bin, runDir: t.TempDir()}
	if out, code := stopped.cli(t.Context(), "show", "vrrp"); code != 1 || !strings.Contains(out, "is it running?") {
		t.Errorf("show vrrp without a daemon: exit %d, output %q; want 1 and why", code, out)
	}
}
