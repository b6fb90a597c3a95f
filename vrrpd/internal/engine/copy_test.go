package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
)

// syncBuffer is a log destination the loop writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestVR_C20_C21_IngressCopyFollowsConfigAndTargets: the VRRP interface's
// mirror and redirect are applied at start; a missing target is logged
// (naming the group and the interface) while the group runs, and applied
// when the target appears; a reload that changes only them keeps the
// group's state.
func TestVR_C20_C21_IngressCopyFollowsConfigAndTargets(t *testing.T) {
	l := newLAN()
	var logs syncBuffer
	r := newRouter(t, l, 1, nil, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	copyConfig := func(c string) string { return "rfc3768-compatibility interface { " + c + " }" }
	filter := "tc filter add dev eth0v99 ingress prio 30322 protocol all u32 match u32 0 0 "

	r.apply(t, oneGroup(t, 255, copyConfig("mirror eth1 redirect ifb0")))
	r.waitState(t, key99, fsm.Master)
	if text := r.kern.String() + "\n"; !strings.Contains(text, filter+"action mirred egress mirror dev eth1\n") {
		t.Errorf("mirror to eth1 missing while ifb0 does not exist:\n%s", text)
	}
	eventually(t, "the missing ifb0 logged", func() bool {
		text := logs.String()
		return strings.Contains(text, "group=eth0/99") && strings.Contains(text, "interface=eth0v99") &&
			strings.Contains(text, "ip link add ifb0 type ifb")
	})

	r.kern.AddIFB("ifb0")
	eventually(t, "the redirect applied once ifb0 appeared", func() bool {
		return strings.Contains(r.kern.String(), filter+"action mirred egress mirror dev eth1 action mirred egress redirect dev ifb0")
	})
	before := r.status(t, key99)

	tests := []struct {
		name, config, want string
	}{
		{"mirror changed", "mirror eth1", filter + "action mirred egress mirror dev eth1\n"},
		{"redirect alone", "redirect ifb0", filter + "action mirred egress redirect dev ifb0\n"},
		{"copy removed", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.apply(t, oneGroup(t, 255, copyConfig(tt.config)))
			text := r.kern.String() + "\n"
			if tt.want == "" && strings.Contains(text, "tc ") || !strings.Contains(text, tt.want) {
				t.Errorf("kernel state:\n%swant %q", text, tt.want)
			}
			after := r.status(t, key99)
			if after.State != fsm.Master || after.LastTransition != before.LastTransition || after.Counters.BecameMaster != 1 {
				t.Errorf("a mirror or redirect change restarted the group: %+v", after)
			}
		})
	}
}
