//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// kaPath is where Debian's keepalived package (tools/install-deps.sh)
// puts the daemon.
const kaPath = "/usr/sbin/keepalived"

// kaPassword is the plaintext password of the v2 cases that authenticate;
// keepalived uses at most 8 octets of it, vrrpd refuses more (VR-C13).
const kaPassword = "hasuite1"

// kaCase is one pairing of vrrpd and keepalived in group 99.
type kaCase struct {
	name     string
	version  int
	interval string // as both configurations write it
	vmac     bool   // vrrpd rfc3768-compatibility, keepalived use_vmac
	password string // plaintext authentication (version 2 only)
	// masterDaemon is "vrrpd" or "keepalived": the one given priority 150
	// and expected MASTER; the other gets 100.
	masterDaemon string
	// failures are how the master is failed, in turn: "cut" (its bridge
	// port) or "sigterm" (it resigns). Version 2 cases, at seconds per
	// takeover, try one each to keep the run short.
	failures []string
}

// TestVR_B05_B08_B12_B13_KeepalivedInterop puts vrrpd and keepalived 2.2.7
// in one group on a LAN, each way round, for VRRPv2 at 1 s and VRRPv3 at
// 100 ms, with and without the virtual MAC. In every case the expected
// router becomes MASTER and alone holds the VIP (VR-B13), which the LAN
// host reaches; a cut cable makes the other take over (VR-B05) and the
// restored master preempts (VR-B08); SIGTERM makes the master resign with
// priority 0 (VR-B12), the other takes over, and the restarted master
// preempts again.
func TestVR_B05_B08_B12_B13_KeepalivedInterop(t *testing.T) {
	bin := binary(t)
	kaRequire(t)
	both := []string{"cut", "sigterm"}
	tests := []kaCase{
		{name: "VR-C14 v2 legacy auth vrrpd master", version: 2, interval: "1", password: kaPassword, masterDaemon: "vrrpd", failures: []string{"cut"}},
		{name: "VR-C14 v2 legacy auth keepalived master", version: 2, interval: "1", password: kaPassword, masterDaemon: "keepalived", failures: []string{"sigterm"}},
		{name: "VR-Q22 v3 legacy vrrpd master", version: 3, interval: "0.1", masterDaemon: "vrrpd", failures: both},
		{name: "VR-Q22 v3 legacy keepalived master", version: 3, interval: "0.1", masterDaemon: "keepalived", failures: both},
		{name: "VR-B18 v2 vmac vrrpd master", version: 2, interval: "1", vmac: true, masterDaemon: "vrrpd", failures: []string{"sigterm"}},
		{name: "VR-B18 v2 vmac keepalived master", version: 2, interval: "1", vmac: true, masterDaemon: "keepalived", failures: []string{"cut"}},
		{name: "VR-B18 VR-Q22 v3 vmac vrrpd master", version: 3, interval: "0.1", vmac: true, masterDaemon: "vrrpd", failures: both},
		{name: "VR-B18 VR-Q22 v3 vmac keepalived master", version: 3, interval: "0.1", vmac: true, masterDaemon: "keepalived", failures: both},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kaFailover(t, bin, tc)
		})
	}
}

// kaRequire skips without keepalived, or fails where privileged tests must
// run (HASUITE_REQUIRE_PRIVILEGED=1, as in CI).
func kaRequire(t *testing.T) {
	t.Helper()
	netlab.RequirePrivileged(t)
	if _, err := os.Stat(kaPath); err != nil {
		msg := fmt.Sprintf("keepalived not installed (%v): run tools/install-deps.sh", err)
		if os.Getenv(netlab.RequirePrivilegedEnv) == "1" {
			t.Fatalf("%s (%s=1 forbids skipping)", msg, netlab.RequirePrivilegedEnv)
		}
		t.Skip(msg)
	}
}

func kaFailover(t *testing.T, bin string, tc kaCase) {
	lab := newLab(t)
	host := lab.Node("host")
	// r1 (172.16.0.2) runs the expected master, r2 (172.16.0.3) the other.
	backupDaemon := "keepalived"
	if tc.masterDaemon == "keepalived" {
		backupDaemon = "vrrpd"
	}
	master := kaStart(t, bin, lab.Node("r1"), tc.masterDaemon, 150, tc)
	backup := kaStart(t, bin, lab.Node("r2"), backupDaemon, 100, tc)
	kaConverged(t, tc, master, backup)
	kaReach(t, host, master)

	for _, failure := range tc.failures {
		switch failure {
		case "cut":
			kaCut(t, tc, host, master, backup)
		case "sigterm":
			kaTerminate(t, tc, host, master, backup)
		default:
			t.Fatalf("unknown failure %q", failure)
		}
	}
}

// kaCut cuts the master's cable: the backup takes over after Master_Down
// (VR-B05); with the cable back the master preempts (VR-B08). The cut
// master sees its link down, so it comes back as BACKUP and preempts after
// its own Master_Down.
func kaCut(t *testing.T, tc kaCase, host *netlab.Node, master, backup *kaRouter) {
	t.Helper()
	t.Log("VR-B05: cut the master's cable")
	pinger, err := host.StartPinger(vip, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := master.node.CutPort("eth0"); err != nil {
		t.Fatal(err)
	}
	backup.waitMaster(t)
	kaReach(t, host, backup)
	t.Logf("%s took over a cut %s: ping %v", backup, master, pinger.Stop())

	t.Log("VR-B08: the restored master preempts")
	if err := master.node.RestorePort("eth0"); err != nil {
		t.Fatal(err)
	}
	kaConverged(t, tc, master, backup)
	kaReach(t, host, master)
}

// kaTerminate stops the master with SIGTERM: it resigns with a priority 0
// advert so that the backup takes over after its skew time (VR-B12), and
// removes the VIP; restarted, it preempts again (VR-B08).
func kaTerminate(t *testing.T, tc kaCase, host *netlab.Node, master, backup *kaRouter) {
	t.Helper()
	t.Log("VR-B12: SIGTERM resigns with priority 0")
	pinger, err := host.StartPinger(vip, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	master.stop(t)
	backup.waitMaster(t)
	kaReach(t, host, backup)
	t.Logf("%s took over a stopped %s: ping %v", backup, master, pinger.Stop())
	if holder, err := kaVIPHolder(master.node); err != nil {
		t.Fatal(err)
	} else if holder != "" {
		t.Errorf("%s left %s on %s after SIGTERM", master, vip, holder)
	}

	t.Log("VR-B08: the restarted master preempts")
	master.start(t)
	kaConverged(t, tc, master, backup)
	kaReach(t, host, master)
}

// kaConverged waits until master is MASTER and backup BACKUP, then checks
// that it stays so for longer than the backup's Master_Down_Interval: a
// backup that does not hear the master's adverts would take over by then,
// leaving two masters.
func kaConverged(t *testing.T, tc kaCase, master, backup *kaRouter) {
	t.Helper()
	master.waitMaster(t)
	backup.waitBackup(t)
	interval, err := time.ParseDuration(tc.interval + "s")
	if err != nil {
		t.Fatal(err)
	}
	hold := 4*interval + 500*time.Millisecond
	for deadline := time.Now().Add(hold); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, r := range []*kaRouter{master, backup} {
			want := r == master
			if holder, err := kaVIPHolder(r.node); err != nil {
				t.Fatal(err)
			} else if (holder != "") != want {
				t.Fatalf("%v after convergence: %s holds %s on %q (want it on %s alone)\n%s",
					hold, r, vip, holder, master, r.output())
			}
		}
	}
}

// kaReach waits until the LAN host pings the VIP and, when vrrpd is the
// master, has learned the MAC of the interface holding it: the virtual MAC
// in RFC 3768 mode (VR-B13, VR-B18), else eth0 (gratuitous ARP, VR-B14).
// keepalived 2.2.7 is not held to it: it leaves the parent's arp_announce
// at 0, so its node's own ARP request for the host names the VIP at eth0's
// MAC and the host keeps that until keepalived's second gratuitous ARP
// burst, 5 s later (vrrpd sets arp_announce=2, see internal/kernel).
func kaReach(t *testing.T, host *netlab.Node, master *kaRouter) {
	t.Helper()
	host.WaitPing(t, vip, patience)
	if master.daemon != "vrrpd" {
		return
	}
	ifname := "eth0"
	if master.tc.vmac {
		ifname = vmacIf
	}
	link, err := master.node.Netlink().LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	want := link.Attrs().HardwareAddr.String()
	if master.tc.vmac && want != kaVMAC {
		t.Errorf("%s's %s has MAC %s, want the virtual MAC %s", master, ifname, want, kaVMAC)
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		got, err := kaNeighbour(host, vip)
		if err != nil {
			return false, err.Error()
		}
		return got == want, fmt.Sprintf("host's ARP entry for %s is %q, want %s's %s %s", vip, got, master, ifname, want)
	})
}

// kaVMAC is group 99's virtual MAC (VR-B18).
const kaVMAC = "00:00:5e:00:01:63"

// kaNeighbour is node's ARP entry for addr, "" without one.
func kaNeighbour(node *netlab.Node, addr string) (string, error) {
	neighs, err := node.Netlink().NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		return "", err
	}
	for _, n := range neighs {
		if n.IP.String() == addr && n.HardwareAddr != nil {
			return n.HardwareAddr.String(), nil
		}
	}
	return "", nil
}

// kaRouter is one router of the pair, running vrrpd or keepalived.
type kaRouter struct {
	node     *netlab.Node
	daemon   string
	bin      string // vrrpd's
	priority int
	tc       kaCase

	proc      *netlab.Process
	vrrpd     *router // when daemon is vrrpd
	stateFile string  // keepalived's notify script writes its state there
}

func (r *kaRouter) String() string { return r.daemon + " on " + r.node.Name() }

// kaStart starts daemon in node with the case's settings.
func kaStart(t *testing.T, bin string, node *netlab.Node, daemon string, priority int, tc kaCase) *kaRouter {
	t.Helper()
	r := &kaRouter{node: node, daemon: daemon, bin: bin, priority: priority, tc: tc}
	r.start(t)
	return r
}

// kaSettings fills the templates in testdata/keepalived.
type kaSettings struct {
	Node     string
	Version  int
	Interval string
	Priority int
	VMAC     bool
	Password string
	Notify   string
}

func kaRender(t *testing.T, name string, s kaSettings) []byte {
	t.Helper()
	tmpl, err := template.New(name).Option("missingkey=error").ParseFiles(filepath.Join("testdata", "keepalived", name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// start (re)starts the router's daemon, each time in a fresh directory.
func (r *kaRouter) start(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	s := kaSettings{Node: r.node.Name(), Version: r.tc.version, Interval: r.tc.interval,
		Priority: r.priority, VMAC: r.tc.vmac, Password: r.tc.password}
	var err error
	switch r.daemon {
	case "vrrpd":
		config := filepath.Join(dir, "vrrpd.conf")
		if err := os.WriteFile(config, kaRender(t, "vrrpd.conf.tmpl", s), 0o644); err != nil {
			t.Fatal(err)
		}
		r.vrrpd = &router{node: r.node, bin: r.bin, runDir: filepath.Join(dir, "run")}
		r.proc, err = r.node.Start(t.Context(), r.bin, "--config", config, "--run-dir", r.vrrpd.runDir,
			"--scripts-dir", dir, "--log-level", "debug", "run")
		r.vrrpd.proc = r.proc
	case "keepalived":
		// Renamed into place, so that a reader never sees half a line.
		r.stateFile = filepath.Join(dir, "state")
		s.Notify = filepath.Join(dir, "notify.sh")
		script := fmt.Sprintf("#!/bin/sh\n# keepalived calls: notify INSTANCE VI_99 STATE PRIORITY\necho \"$3\" >%[1]s.new && mv %[1]s.new %[1]s\n", r.stateFile)
		if err := os.WriteFile(s.Notify, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		config := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(config, kaRender(t, "keepalived.conf.tmpl", s), 0o644); err != nil {
			t.Fatal(err)
		}
		// Distinct pid files, no fork, no syslog, no respawn (FIELD-NOTES).
		r.proc, err = r.node.Start(t.Context(), kaPath, "-n", "-l", "-D", "-G", "-P", "-R", "-f", config,
			"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
			"-c", filepath.Join(dir, "checkers.pid"))
	default:
		t.Fatalf("unknown daemon %q", r.daemon)
	}
	if err != nil {
		t.Fatalf("start %s: %v", r, err)
	}
}

// stop sends SIGTERM and requires a clean exit.
func (r *kaRouter) stop(t *testing.T) {
	t.Helper()
	if err := r.proc.Stop(patience); err != nil {
		t.Fatalf("%s did not exit cleanly on SIGTERM: %v\n%s", r, err, r.output())
	}
}

func (r *kaRouter) output() string {
	return fmt.Sprintf("--- %s output:\n%s", r, r.proc.Output())
}

// state is the daemon's own word for its state: vrrpd's `show vrrp --json`
// or the last state keepalived's notify script was given.
func (r *kaRouter) state(ctx context.Context) (string, error) {
	if r.daemon == "vrrpd" {
		s, err := r.vrrpd.state(ctx)
		return strings.TrimPrefix(s.String(), "STATE_"), err
	}
	b, err := os.ReadFile(r.stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return "(no notify yet)", nil
	}
	return strings.TrimSpace(string(b)), err
}

func (r *kaRouter) waitMaster(t *testing.T) { t.Helper(); r.waitState(t, "MASTER", true) }
func (r *kaRouter) waitBackup(t *testing.T) { t.Helper(); r.waitState(t, "BACKUP", false) }

// waitState waits until the daemon says it is in state want and holds the
// VIP or not, as the state requires.
func (r *kaRouter) waitState(t *testing.T, want string, holdsVIP bool) {
	t.Helper()
	start := time.Now()
	err := netlab.Poll(t.Context(), patience, func() (bool, string) {
		if r.proc.Exited() {
			return false, r.String() + " exited"
		}
		got, err := r.state(t.Context())
		if err != nil {
			return false, err.Error()
		}
		holder, err := kaVIPHolder(r.node)
		if err != nil {
			return false, err.Error()
		}
		wantHolder := ""
		if holdsVIP {
			wantHolder = "eth0"
			if r.tc.vmac {
				wantHolder = vmacIf
			}
		}
		return got == want && holder == wantHolder, fmt.Sprintf("%s is %s, VIP on %q", r, got, holder)
	})
	if err != nil {
		t.Fatalf("%s: want %s: %v\n%s", r, want, err, r.output())
	}
	t.Logf("%s is %s after %v", r, want, time.Since(start).Round(time.Millisecond))
}

// kaVIPHolder names the interface of node holding the VIP (eth0 in legacy
// mode, eth0v99 with the virtual MAC), or "" when none does.
func kaVIPHolder(node *netlab.Node) (string, error) {
	for _, name := range []string{"eth0", vmacIf} {
		link, err := node.Netlink().LinkByName(name)
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		addrs, err := node.Netlink().AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return "", err
		}
		for _, a := range addrs {
			if a.IP.String() == vip {
				return name, nil
			}
		}
	}
	return "", nil
}
