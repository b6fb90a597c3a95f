package engine

import (
	"testing"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// TestEnableEvents: in a fresh network namespace the kernel's default
// (2: events only for connections created while someone listens) becomes
// 1, and a second call finds it so.
func TestEnableEvents(t *testing.T) {
	netlab.RequirePrivileged(t)
	lab := netlab.New(t, netlab.Topology{Nodes: []netlab.NodeSpec{{Name: "r"}}})
	node := lab.Node("r")
	for _, want := range []string{"2", "1"} {
		var was string
		if err := node.Do(func() error {
			var err error
			was, err = enableEvents()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if was != want {
			t.Errorf("enableEvents found %q, want %q", was, want)
		}
	}
	if got, err := node.Sysctl("net.netfilter.nf_conntrack_events"); err != nil || got != "1" {
		t.Errorf("nf_conntrack_events = %q, %v; want 1", got, err)
	}
}
