package netio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
	"github.com/hasuite/hasuite/vrrpd/internal/packet"
)

const keepalivedPath = "/usr/sbin/keepalived"

// startKeepalived runs keepalived in n with one VRRP version 3 instance on
// eth0 for vip4, advertising every 100 ms.
func startKeepalived(t *testing.T, n *netlab.Node, state string, priority int) *netlab.Process {
	t.Helper()
	if _, err := os.Stat(keepalivedPath); err != nil {
		t.Skipf("keepalived not installed: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	text := fmt.Sprintf(`vrrp_instance VI_1 {
    state %s
    version 3
    interface eth0
    virtual_router_id %d
    priority %d
    advert_int 0.1
    virtual_ipaddress {
        %s/24
    }
}
`, state, vrid, priority, vip4)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := n.Start(t.Context(), keepalivedPath, "-n", "-l", "-D", "--vrrp",
		"-f", conf, "-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrivilegedKeepalivedAdvertsReachUs checks that our receiver hands
// over keepalived's adverts whole: they decode and carry its VRID.
func TestPrivilegedKeepalivedAdvertsReachUs(t *testing.T) {
	a, b := newPair(t)
	received := receiveAll(listenIn(t, a, AdvertConfig{ReceiveInterface: "eth0"}))
	startKeepalived(t, b, "MASTER", 150)
	got := waitReceived(t, received, func(r Received) bool { return r.Src == addrB })
	if got.Dst != GroupIPv4 || got.HopLimit != 255 || got.IfIndex != ifIndexIn(t, a, "eth0") {
		t.Errorf("received %+v, want an advert to %s with TTL 255 on eth0", got, GroupIPv4)
	}
	adv, err := packet.Unmarshal(got.Payload, got.Src, got.Dst, packet.Options{})
	if err != nil {
		t.Fatalf("keepalived's advert does not decode: %v", err)
	}
	if adv.VRID != vrid || adv.Priority != 150 {
		t.Errorf("decoded %+v, want VRID %d priority 150", adv, vrid)
	}
}

// TestPrivilegedKeepalivedStaysBackup checks that keepalived accepts our
// adverts: as a BACKUP of lower priority it stays BACKUP while we send them,
// and takes over once we stop, which shows it was our adverts that held it.
func TestPrivilegedKeepalivedStaysBackup(t *testing.T) {
	a, b := newPair(t)
	sender := listenIn(t, a, AdvertConfig{ReceiveInterface: "eth0", Source: addrA})
	payload := marshal(t, advert4(200), addrA, GroupIPv4)

	ctx, stop := context.WithCancel(t.Context())
	var sent atomic.Int64
	sending := make(chan error, 1)
	go func() {
		// Adverts at the interval they announce, as a master sends them.
		ticker := time.NewTicker(advert4(200).Interval())
		defer ticker.Stop()
		for {
			if err := sender.Send(payload, GroupIPv4); err != nil {
				sending <- err
				return
			}
			sent.Add(1)
			select {
			case <-ctx.Done():
				sending <- nil
				return
			case <-ticker.C:
			}
		}
	}()
	defer stop()

	keepalived := startKeepalived(t, b, "BACKUP", 100)
	keepalived.WaitOutput(t, waitTimeout, "Entering BACKUP STATE")
	// Thirty adverts span ten times keepalived's master-down interval
	// (3 × 100 ms plus skew): ample time to take over, were it to ignore them.
	target := sent.Load() + 30
	netlab.WaitFor(t, waitTimeout, func() (bool, string) {
		n := sent.Load()
		return n >= target, fmt.Sprintf("%d of %d adverts sent", n, target)
	})
	if slices.ContainsFunc(keepalived.Lines(), func(line string) bool { return strings.Contains(line, "Entering MASTER STATE") }) {
		t.Errorf("keepalived became MASTER despite our adverts of higher priority:\n%s", keepalived.Output())
	}
	if addrs, err := b.Run(t.Context(), "ip", "-4", "-o", "addr", "show", "dev", "eth0"); err != nil {
		t.Fatal(err)
	} else if strings.Contains(addrs, vip4.String()+"/") {
		t.Errorf("keepalived added the VIP while backup: %s", addrs)
	}

	stop()
	if err := <-sending; err != nil {
		t.Fatal(err)
	}
	keepalived.WaitOutput(t, waitTimeout, "Entering MASTER STATE")
}
