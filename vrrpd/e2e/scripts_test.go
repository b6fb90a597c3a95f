//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// scriptsConfig is group 99 (VRRPv3, 100 ms) with transition scripts.
func scriptsConfig(priority int, master, backup, fault string) string {
	return fmt.Sprintf(`interfaces {
	ethernet eth0 {
		vrrp {
			vrrp-group 99 {
				version 3
				advertise-interval 0.1
				priority %d
				rfc3768-compatibility
				run-transition-scripts {
					backup %s
					fault %s
					master %s
				}
				virtual-address %s
			}
		}
	}
}
`, priority, backup, fault, master, vipCIDR)
}

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestVR_B31_TransitionScripts: each transition runs its script with the
// arguments Vyatta passed (state, interface, group, VRRP interface, VIPs)
// and the VRRP_* environment, in order; a script that hangs does not stop
// the daemon from advertising, answering the CLI or failing over.
func TestVR_B31_TransitionScripts(t *testing.T) {
	bin := binary(t)
	lab := newLab(t)
	dir := t.TempDir()
	logs := map[string]string{"r1": filepath.Join(dir, "r1.log"), "r2": filepath.Join(dir, "r2.log")}
	record := map[string]string{}
	for node, log := range logs {
		record[node] = writeScript(t, dir, node+".sh", fmt.Sprintf(
			"echo \"$* | $VRRP_STATE $VRRP_INTERFACE $VRRP_GROUP $VRRP_VRRP_INTERFACE $VRRP_VIPS\" >>%s\n", log))
	}
	hang := writeScript(t, dir, "hang.sh", "sleep 600\n")

	r1 := startRouterConfig(t, bin, lab.Node("r1"), scriptsConfig(150, hang, record["r1"], record["r1"]))
	r2 := startRouterConfig(t, bin, lab.Node("r2"), scriptsConfig(20, record["r2"], record["r2"], record["r2"]))
	r1.waitState(t, vrrpv1.State_STATE_MASTER)
	r2.waitState(t, vrrpv1.State_STATE_BACKUP)

	// R1's master script hangs; R1 still advertises and answers.
	sent := r1.mustStatistics(t, "eth0/99").AdvertsSent
	netlab.WaitFor(t, patience, func() (bool, string) {
		s, err := r1.statistics(t.Context(), "eth0/99")
		if err != nil {
			return false, err.Error()
		}
		return s.AdvertsSent >= sent+20, fmt.Sprintf("R1 sent %d adverts, had sent %d", s.AdvertsSent, sent)
	})
	r2.waitState(t, vrrpv1.State_STATE_BACKUP)

	if err := r1.node.CutPort("eth0"); err != nil {
		t.Fatal(err)
	}
	r2.waitState(t, vrrpv1.State_STATE_MASTER)

	line := func(state string) string {
		return state + " eth0 99 eth0v99 " + vip + " | " + state + " eth0 99 eth0v99 " + vipCIDR
	}
	// R1's fault script waits for the hung master script (the hook runner
	// kills it at its timeout): R1 logged its first BACKUP only so far.
	want := map[string][]string{
		"r1": {line("backup")},
		"r2": {line("backup"), line("master")},
	}
	for node, lines := range want {
		netlab.WaitFor(t, patience, func() (bool, string) {
			data, _ := os.ReadFile(logs[node])
			got := strings.TrimSpace(string(data))
			return strings.HasPrefix(got, strings.Join(lines, "\n")), fmt.Sprintf("%s's scripts logged:\n%s\nwant first:\n%s", node, got, strings.Join(lines, "\n"))
		})
	}
}
