//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/netlab"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// TestVR_B33_ReloadTouchesOnlyTheChangedGroup: R1 runs groups 99 and 100 on
// eth0 as master (150), R2 as backup (100). A reload that lowers group
// 100's priority below R2's hands group 100 to R2 (R2 preempts), and a
// second one raising it takes it back, while group 99 is untouched: no
// transition on the bus (`vrrpd watch`), the same last-transition time,
// the same Became master count (VR-B33).
func TestVR_B33_ReloadTouchesOnlyTheChangedGroup(t *testing.T) {
	bin := binary(t)
	t.Parallel()
	lab := newLab(t)
	config := func(priority100 int) string {
		g99 := groupSpec{ifname: "eth0", id: 99, priority: 150, vips: []string{vipCIDR}}.fast()
		g100 := groupSpec{ifname: "eth0", id: 100, priority: priority100, vips: []string{"172.16.0.25/24"}}.fast()
		return vrrpConfig(g99, g100)
	}
	r1 := startRouterConfig(t, bin, lab.Node("r1"), config(150))
	r2cfg := config(100)
	r2cfg = strings.ReplaceAll(r2cfg, "priority 150", "priority 100")
	r2 := startRouterConfig(t, bin, lab.Node("r2"), r2cfg)
	for _, key := range []string{"eth0/99", "eth0/100"} {
		r1.waitGroup(t, key, vrrpv1.State_STATE_MASTER)
		r2.waitGroup(t, key, vrrpv1.State_STATE_BACKUP)
	}

	watch, err := r1.node.Start(t.Context(), bin, "--run-dir", r1.runDir, "watch")
	if err != nil {
		t.Fatal(err)
	}
	watch.WaitOutput(t, patience, `"endOfSnapshot"`)
	g99, err := r1.group(t.Context(), "eth0/99")
	if err != nil {
		t.Fatal(err)
	}
	became, became2 := r1.mustStatistics(t, "eth0/99").BecameMaster, r2.mustStatistics(t, "eth0/99").BecameMaster

	reload := func(priority100 int) {
		t.Helper()
		r1.writeConfig(t, config(priority100))
		out, code := r1.cli(t.Context(), "reload")
		if code != 0 || !strings.Contains(out, "eth0/100") || strings.Contains(out, "eth0/99") {
			t.Fatalf("reload: exit %d, output %q; want 0 and a change of eth0/100 only", code, out)
		}
	}
	t.Log("group 100 down to 50: R2 (100) preempts it")
	reload(50)
	r1.waitGroup(t, "eth0/100", vrrpv1.State_STATE_BACKUP)
	r2.waitGroup(t, "eth0/100", vrrpv1.State_STATE_MASTER)
	waitOnlyHolder(t, "172.16.0.25", r2.node, r1.node, r2.node)
	t.Log("group 100 back to 150: R1 preempts it again")
	reload(150)
	r1.waitGroup(t, "eth0/100", vrrpv1.State_STATE_MASTER)
	r2.waitGroup(t, "eth0/100", vrrpv1.State_STATE_BACKUP)

	// The watch saw group 100 move, so it would have seen group 99 too.
	netlab.WaitFor(t, patience, func() (bool, string) {
		moved := transitions(t, watch.Lines(), "eth0/100")
		return len(moved) >= 2, fmt.Sprintf("the watch saw eth0/100 move %v, want to BACKUP and back to MASTER", moved)
	})
	if moved := transitions(t, watch.Lines(), "eth0/99"); len(moved) > 0 {
		t.Errorf("group 99 moved while only group 100 changed: %v", moved)
	}
	after, err := r1.group(t.Context(), "eth0/99")
	if err != nil {
		t.Fatal(err)
	}
	if after.State != vrrpv1.State_STATE_MASTER || !after.LastTransition.AsTime().Equal(g99.LastTransition.AsTime()) {
		t.Errorf("group 99 after the reloads: %v since %v; before: %v since %v", after.State, after.LastTransition.AsTime(), g99.State, g99.LastTransition.AsTime())
	}
	if got := r1.mustStatistics(t, "eth0/99").BecameMaster; got != became {
		t.Errorf("group 99 became master %d times across the reloads, %d before", got, became)
	}
	if got := r2.mustStatistics(t, "eth0/99").BecameMaster; got != became2 {
		t.Errorf("R2's group 99 became master %d times across the reloads, %d before", got, became2)
	}
}

// transitions are the bus transitions of group among `vrrpd watch` lines.
func transitions(t *testing.T, lines []string, group string) []string {
	t.Helper()
	var found []string
	for _, line := range lines {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var msg busv1.WatchResponse
		if err := protojson.Unmarshal([]byte(line), &msg); err != nil {
			t.Fatalf("vrrpd watch printed %q: %v", line, err)
		}
		if tr := msg.GetTransition(); tr != nil && tr.Group == group {
			found = append(found, fmt.Sprintf("%v->%v (%s)", tr.PreviousState, tr.State, tr.Reason))
		}
	}
	return found
}
