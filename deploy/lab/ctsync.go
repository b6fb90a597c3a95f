package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/netlab"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// The guide's Example 4-8 (both routers run it unchanged) and its Examples
// 4-1 and 4-9 as iptables rules; embedded so that `lab up` works from any
// directory.
//
//go:embed ctsyncd/ctsyncd.conf ctsyncd/firewall.rules
var ctsyncFiles embed.FS

// Chapter 4's addresses: the VIPs of Examples 4-6/4-7, the server of
// Examples 4-1/4-9 (the LAN host) and the "Internet host" (ISP1).
const (
	ctsyncOutsideVIP = "12.34.56.100"
	ctsyncInsideVIP  = "172.16.0.100"
	ctsyncServer     = "172.16.0.33:80"
	// ctsyncService is where the Internet reaches the server: Example
	// 4-9's DNAT of HTTP on the outside VIP.
	ctsyncService = ctsyncOutsideVIP + ":80"
	internetHost  = "isp1"
	ctsyncISP1    = "12.34.56.1"
)

// ctsyncdScenario is the VRRP scenario ctsyncd's Example 4-8 follows.
const ctsyncdScenario = "4-6"

// ctsyncLab is ctsyncd running on the lab's routers beside vrrpd with
// Examples 4-6/4-7. Each router's files sit in its run directory beside
// vrrpd's: ctsyncd.conf, ctsyncd.sock, ctsyncd.log, firewall.rules and the
// state directory ctsyncd-state/.
type ctsyncLab struct {
	lab     *netlab.Lab
	bin     string
	runRoot string
	vrrp    vrrpLab
}

func newCtsyncLab(lab *netlab.Lab, bin, vrrpBin, root string) ctsyncLab {
	return ctsyncLab{lab: lab, bin: bin, runRoot: root,
		vrrp: vrrpLab{lab: lab, bin: vrrpBin, runRoot: root, lanVIP: ctsyncInsideVIP}}
}

func (c ctsyncLab) runDir(node string) string  { return filepath.Join(c.runRoot, node) }
func (c ctsyncLab) logFile(node string) string { return filepath.Join(c.runDir(node), "ctsyncd.log") }

// globals are the flags of every ctsyncd command for a router's daemon:
// the run directory is vrrpd's, where ctsyncd finds vrrpd's socket.
func (c ctsyncLab) globals(node string) []string {
	dir := c.runDir(node)
	return []string{"--config", filepath.Join(dir, "ctsyncd.conf"), "--run-dir", dir,
		"--state-dir", filepath.Join(dir, "ctsyncd-state"), "--scripts-dir", dir}
}

// installFirewall loads Examples 4-1 and 4-9 on a router and turns loose
// TCP pick-up off, so that a router without the connection table drops a
// connection it meets mid-stream (FIELD-NOTES): the point of the chapter.
// The sysctl exists once the rules have brought conntrack to the namespace.
func (c ctsyncLab) installFirewall(ctx context.Context, node string) error {
	rules, err := ctsyncFiles.ReadFile("ctsyncd/firewall.rules")
	if err != nil {
		return err
	}
	path := filepath.Join(c.runDir(node), "firewall.rules")
	if err := os.WriteFile(path, rules, 0o644); err != nil {
		return err
	}
	n := c.lab.Node(node)
	if out, err := n.Run(ctx, "iptables-restore", path); err != nil {
		return fmt.Errorf("%s: iptables-restore %s: %w: %s", node, path, err, out)
	}
	return n.SetSysctl("net.netfilter.nf_conntrack_tcp_loose", "0")
}

// startNode starts a router's ctsyncd, detached so that it outlives this
// program.
func (c ctsyncLab) startNode(node string) error {
	_, err := c.lab.Node(node).StartDetached(netlab.DetachOptions{Name: "ctsyncd", LogFile: c.logFile(node)},
		c.bin, append(c.globals(node), "run")...)
	if err != nil {
		return fmt.Errorf("start ctsyncd on %s: %w", node, err)
	}
	return nil
}

// daemon finds a router's detached daemon of that name, running or not.
func (c ctsyncLab) daemon(node, name string) (*netlab.Detached, error) {
	found, err := netlab.FindDetached(c.lab.Prefix())
	if err != nil {
		return nil, err
	}
	for _, d := range found {
		if d.Node == node && d.Name == name {
			return d, nil
		}
	}
	return nil, fmt.Errorf("no %s was started on %s: make lab-ctsync starts it", name, node)
}

// ctl runs the ctsyncd CLI against a router's daemon; the socket needs no
// namespace.
func (c ctsyncLab) ctl(ctx context.Context, node string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(c.globals(node), args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%s: ctsyncd %s: %w: %s", node, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
		if d, derr := c.daemon(node, "ctsyncd"); derr == nil && !d.Running() {
			err = fmt.Errorf("%w\nctsyncd on %s is not running; the end of %s:\n%s", err, node, c.logFile(node), tail(c.logFile(node), 5))
		}
		return "", err
	}
	return string(out), nil
}

// status is a router's `show conntrack-sync status --json`.
func (c ctsyncLab) status(ctx context.Context, node string) (*ctsyncv1.Status, error) {
	out, err := c.ctl(ctx, node, "show", "conntrack-sync", "status", "--json")
	if err != nil {
		return nil, err
	}
	var resp ctsyncv1.ShowStatusResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("%s: parse show conntrack-sync status --json: %w", node, err)
	}
	return resp.Status, nil
}

// summary sums a router's status up in a line.
func summary(s *ctsyncv1.Status) string {
	peer := "peer silent"
	if s.GetPeer().GetAlive() {
		peer = "peer alive"
	}
	line := fmt.Sprintf("%s, %s, internal %d, external %d", strings.TrimPrefix(s.GetState().String(), "SYNC_STATE_"),
		peer, s.GetInternalEntries(), s.GetExternalEntries())
	if cm := s.GetLastCommit(); cm != nil {
		line += fmt.Sprintf(", last commit %d entries (%d failed) in %v", cm.GetEntries(), cm.GetFailed(),
			cm.GetDuration().AsDuration().Round(time.Microsecond))
	}
	return line
}

// waitPeers waits until both routers' ctsyncd hear each other and hold the
// other's whole table (so neither holds a demotion any more).
func (c ctsyncLab) waitPeers(ctx context.Context) (string, error) {
	var last string
	err := netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		var views []string
		ok := true
		for _, node := range routers {
			s, err := c.status(ctx, node)
			if err != nil {
				return false, err.Error()
			}
			views = append(views, fmt.Sprintf("%s %s", clusterNodeName(node), summary(s)))
			ok = ok && s.GetPeer().GetAlive() && s.GetSyncedOnce()
		}
		last = strings.Join(views, "; ")
		return ok, last
	})
	return last, err
}

// showAll prints `show conntrack-sync status` of every router whose
// ctsyncd runs, as an operator would run it.
func (c ctsyncLab) showAll(ctx context.Context, out io.Writer) {
	for _, node := range routers {
		if d, err := c.daemon(node, "ctsyncd"); err == nil && !d.Running() {
			fmt.Fprintf(out, "\n(%s's ctsyncd is not running)\n", clusterNodeName(node))
			continue
		}
		fmt.Fprintf(out, "\n$ ctsyncd --run-dir %s show conntrack-sync status\n", c.runDir(node))
		text, err := c.ctl(ctx, node, "show", "conntrack-sync", "status")
		if err != nil {
			fmt.Fprintf(out, "%v\n", err)
			continue
		}
		fmt.Fprint(out, text)
	}
}

// startCtsync turns the lab into chapter 4's: the firewall and NAT on both
// routers, ISP1 (the Internet host) routing the LAN through the outside
// VIP, ctsyncd with Example 4-8 on both. vrrpd must already run Examples
// 4-6/4-7 with R1 master. It checks that the DNAT of Example 4-9 carries a
// connection from ISP1 to the server.
func startCtsync(ctx context.Context, c ctsyncLab, out io.Writer) error {
	fmt.Fprintf(out, "\nloading the guide's Examples 4-1 and 4-9 (deploy/lab/ctsyncd/firewall.rules) on R1 and R2, nf_conntrack_tcp_loose=0...\n")
	conf, err := ctsyncFiles.ReadFile("ctsyncd/ctsyncd.conf")
	if err != nil {
		return err
	}
	for _, node := range routers {
		if err := os.MkdirAll(filepath.Join(c.runDir(node), "ctsyncd-state"), 0o755); err != nil {
			return err
		}
		if err := c.installFirewall(ctx, node); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.runDir(node), "ctsyncd.conf"), conf, 0o644); err != nil {
			return err
		}
	}
	// The Internet host reaches the protected network through the
	// outside VIP, wherever it lives.
	for _, dst := range []string{"172.16.0.0/24", "10.6.0.0/24"} {
		if out, err := c.lab.Node(internetHost).Run(ctx, "ip", "route", "replace", dst, "via", ctsyncOutsideVIP); err != nil {
			return fmt.Errorf("isp1: route %s via %s: %w: %s", dst, ctsyncOutsideVIP, err, out)
		}
	}
	fmt.Fprintf(out, "ok  ISP1 routes 172.16.0.0/24 and 10.6.0.0/24 via the VIP %s\n", ctsyncOutsideVIP)
	fmt.Fprintf(out, "\nstarting ctsyncd on R1 and R2 with the guide's Example 4-8 (deploy/lab/ctsyncd/ctsyncd.conf)...\n")
	for _, node := range routers {
		if err := c.startNode(node); err != nil {
			return err
		}
	}
	views, err := c.waitPeers(ctx)
	if err != nil {
		return fmt.Errorf("ctsyncd on R1 and R2 do not hear each other: %w", err)
	}
	fmt.Fprintf(out, "ok  conntrack-sync: %s\n", views)
	if _, err := c.vrrp.waitMasters(ctx, "r1"); err != nil {
		return fmt.Errorf("with ctsyncd, R1 is no longer MASTER of every group: %w", err)
	}
	srv, err := startStreamServer(c.lab.Node("lan"))
	if err != nil {
		return err
	}
	defer srv.Close()
	probe, err := startDownload(ctx, c.lab.Node(internetHost), ctsyncService, 1<<20, 8<<20)
	if err == nil {
		err = probe.wait(smokeTimeout)
	}
	if err != nil {
		return fmt.Errorf("ISP1 -> %s (DNAT to the server %s): %w", ctsyncService, ctsyncServer, err)
	}
	fmt.Fprintf(out, "ok  tcp  %-13s ISP1 -> the server %s through Example 4-9's DNAT (1 MiB, every byte checked)\n", ctsyncService, ctsyncServer)
	return nil
}

// ctsyncStatus shows, for `lab status`, where each router's chapter 4
// files are and what its ctsyncd says.
func ctsyncStatus(ctx context.Context, lab *netlab.Lab, out io.Writer) error {
	bin, err := daemonBinary("ctsyncd")
	if err != nil {
		return err
	}
	c := newCtsyncLab(lab, bin, "", runRoot)
	var views []string
	for _, node := range routers {
		dir := c.runDir(node)
		fmt.Fprintf(out, "%s: %s/ctsyncd.conf (Example 4-8), %s/firewall.rules (Examples 4-1, 4-9), %s/vrrpd.conf\n",
			clusterNodeName(node), dir, dir, dir)
		s, err := c.status(ctx, node)
		if err != nil {
			views = append(views, fmt.Sprintf("%s: %v", clusterNodeName(node), err))
			continue
		}
		views = append(views, clusterNodeName(node)+" "+summary(s))
	}
	fmt.Fprintf(out, "conntrack-sync: %s\n", strings.Join(views, "; "))
	c.showAll(ctx, out)
	return nil
}

// ctsyncReport is what ctsync-failover measured.
type ctsyncReport struct {
	size              int64
	takeover          time.Duration // from the kill to R2 holding both VIPs
	stall             time.Duration // the longest time the transfer received nothing, after the kill
	transfer          time.Duration // the whole transfer
	committed         uint64        // entries R2 wrote into its kernel at the takeover
	failback          time.Duration // from R1's daemons' restart to R1 MASTER again
	failbackStall     time.Duration // the longest stall of a second transfer across the failback
	failbackCommitted uint64        // entries R1 committed when it took the VIPs back
}

func (r ctsyncReport) String() string {
	second := fmt.Sprintf("a second transfer intact, stalled at most %v", r.failbackStall.Round(10*time.Millisecond))
	return fmt.Sprintf("transfer of %d MiB intact in %v, stalled at most %v across the takeover (R2 MASTER after %v, %d entries committed); "+
		"failback after %v (%d entries committed), %s",
		r.size>>20, r.transfer.Round(100*time.Millisecond), r.stall.Round(10*time.Millisecond), r.takeover.Round(100*time.Millisecond),
		r.committed, r.failback.Round(100*time.Millisecond), r.failbackCommitted, second)
}

// transferShape is the long transfer's size and rate.
type transferShape struct{ size, rate int64 }

// defaultTransfer lasts 24 s, long enough to span R1's death, R2's
// takeover (Master_Down, about 3.6 s at the guide's 1 s adverts) and TCP's
// retransmission back-off after it.
var defaultTransfer = transferShape{size: 48 << 20, rate: 2 << 20}

// r1Ports and syncLink are R1's cables: the bridge ports of eth0, eth2, eth3, and
// eth1, the direct link to R2.
var (
	r1Ports  = []string{"eth0", routerLANPort, "eth3"}
	syncLink = "eth1"
)

// failover is the guide's acceptance test: a long transfer from the
// Internet host through the DNATed VIP to the server; R1 dies mid-transfer
// (its vrrpd and ctsyncd killed, its cables cut); R2 takes over with R1's
// connection table and the transfer completes with every byte intact.
// Then R1 comes back as after a reboot and takes the VIPs back, while a
// second transfer runs. The cables go back in whatever happens.
func (c ctsyncLab) failover(ctx context.Context, out io.Writer, shape transferShape) (rep ctsyncReport, err error) {
	rep.size = shape.size
	isp1, r1 := c.lab.Node(internetHost), c.lab.Node("r1")
	if _, err := c.vrrp.waitMasters(ctx, "r1"); err != nil {
		return rep, fmt.Errorf("before the failover, R1 is not MASTER of every group: %w", err)
	}
	views, err := c.waitPeers(ctx)
	if err != nil {
		return rep, fmt.Errorf("before the failover, ctsyncd on R1 and R2 do not hear each other: %w", err)
	}
	fmt.Fprintf(out, "Before: R1 is MASTER of sync group TESTING; conntrack-sync: %s\n", views)
	c.vrrp.showAll(ctx, out)

	srv, err := startStreamServer(c.lab.Node("lan"))
	if err != nil {
		return rep, err
	}
	defer srv.Close()
	fmt.Fprintf(out, "\n--- ISP1 downloads %d MiB at %d MiB/s from %s (DNAT to the server %s) ---\n",
		shape.size>>20, shape.rate>>20, ctsyncService, ctsyncServer)
	dl, err := startDownload(ctx, isp1, ctsyncService, shape.size, shape.rate)
	if err != nil {
		return rep, err
	}
	defer dl.close()
	// R2 must hold the connection before R1 dies: its external cache
	// then has it, NATed, as R1's kernel does.
	if err := c.waitExternalHas(ctx, "r2", dl.localPort()); err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "ok  R2's external cache holds the connection, as R1's internal cache does:\n")
	c.showConnection(ctx, out, "r1", "internal-cache", dl.localPort())
	c.showConnection(ctx, out, "r2", "external-cache", dl.localPort())
	// Let it run a while: the crash comes mid-transfer.
	if err := dl.waitProgress(ctx, min(shape.size/8, 3*shape.rate)); err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "ok  %d MiB received, every byte as sent\n", dl.progress()>>20)

	logMark := fileSize(c.logFile("r2"))
	fmt.Fprintf(out, "\n--- R1 dies: kill -KILL its vrrpd and ctsyncd, cut its cables (eth0, eth2, eth3 ports in %s; eth1 down) ---\n", c.lab.SwitchNamespace())
	killed := time.Now()
	for _, name := range []string{"vrrpd", "ctsyncd"} {
		d, err := c.daemon("r1", name)
		if err != nil {
			return rep, err
		}
		if err := d.Signal(syscall.SIGKILL); err != nil {
			return rep, fmt.Errorf("kill R1's %s: %w", name, err)
		}
	}
	for _, port := range r1Ports {
		if err := r1.CutPort(port); err != nil {
			return rep, err
		}
	}
	if err := r1.SetLinkDown(syncLink); err != nil {
		return rep, err
	}
	defer func() {
		if restoreErr := c.reconnectR1(); restoreErr != nil {
			err = errors.Join(err, restoreErr)
		}
		if err != nil {
			err = fmt.Errorf("%w\n(R1's cables are back in; if its daemons are down, make lab-ctsync rebuilds the lab)", err)
		}
	}()
	dl.markStallsFrom(killed)
	if err := c.waitR2Alone(ctx); err != nil {
		return rep, fmt.Errorf("R2 did not take over: %w", err)
	}
	rep.takeover = time.Since(killed)
	s, err := c.status(ctx, "r2")
	if err != nil {
		return rep, err
	}
	rep.committed = s.GetLastCommit().GetEntries()
	fmt.Fprintf(out, "R2 TOOK OVER after %v: MASTER of both groups; its ctsyncd committed R1's table, %d entries, into its kernel\n",
		rep.takeover.Round(100*time.Millisecond), rep.committed)
	fmt.Fprintf(out, "\n$ grep -E '%s' %s   (since the kill)\n%s", logPattern(), c.logFile("r2"), logSince(c.logFile("r2"), logMark, 12))
	c.showAll(ctx, out)
	if err := dl.wait(time.Duration(shape.size/shape.rate)*time.Second + electionTimeout + 30*time.Second); err != nil {
		return rep, fmt.Errorf("the transfer did not survive the takeover (%d of %d bytes): %w\n%s", dl.progress(), shape.size, err, c.resetClues(ctx))
	}
	rep.transfer, rep.stall = dl.elapsed(), dl.longestStall()
	fmt.Fprintf(out, "\nTRANSFER COMPLETED: %d MiB, every byte intact, in %v; it stalled at most %v across the takeover\n",
		shape.size>>20, rep.transfer.Round(100*time.Millisecond), rep.stall.Round(10*time.Millisecond))

	if err := c.restoreR1(ctx, out, srv, shape, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// restoreR1 brings R1 back as after a reboot (its addresses its own, an
// empty connection table), reconnects it, starts ctsyncd and then vrrpd:
// ctsyncd holds a demotion until R2's table is in, so R1 preempts only
// then, through the takeover gate, and a transfer running across the
// failback goes on.
func (c ctsyncLab) restoreR1(ctx context.Context, out io.Writer, srv *streamServer, shape transferShape, rep *ctsyncReport) error {
	r1 := c.lab.Node("r1")
	fmt.Fprintf(out, "\n--- R1 comes back as after a reboot: the VIPs the killed vrrpd left go, its connection table is flushed, its cables go back in ---\n")
	if err := removeAddrs(r1, ctsyncOutsideVIP, ctsyncInsideVIP); err != nil {
		return err
	}
	if out, err := r1.Run(ctx, "conntrack", "-F"); err != nil {
		return fmt.Errorf("r1: conntrack -F: %w: %s", err, out)
	}
	if err := c.reconnectR1(); err != nil {
		return err
	}
	second := transferShape{size: min(shape.size, 16*shape.rate), rate: shape.rate}
	dl, err := startDownload(ctx, c.lab.Node(internetHost), ctsyncService, second.size, second.rate)
	if err != nil {
		return fmt.Errorf("a second transfer through R2: %w", err)
	}
	defer dl.close()
	if err := dl.waitProgress(ctx, 1); err != nil {
		return err
	}
	fmt.Fprintf(out, "ok  a second transfer of %d MiB runs through R2\n", second.size>>20)
	logMark := fileSize(c.logFile("r1"))
	fmt.Fprintf(out, "\n--- R1 starts ctsyncd, then vrrpd: R1 preempts once it holds R2's table ---\n")
	restarted := time.Now()
	dl.markStallsFrom(restarted)
	if err := c.startNode("r1"); err != nil {
		return err
	}
	if err := c.vrrp.startNode("r1"); err != nil {
		return err
	}
	back, err := c.vrrp.waitMasters(ctx, "r1")
	if err != nil {
		return fmt.Errorf("R1 did not take the VIPs back: %w", err)
	}
	rep.failback = time.Since(restarted)
	s, err := c.status(ctx, "r1")
	if err != nil {
		return err
	}
	rep.failbackCommitted = s.GetLastCommit().GetEntries()
	fmt.Fprintf(out, "R1 PREEMPTED after %v: %s; it committed %d entries first\n", rep.failback.Round(100*time.Millisecond), back, rep.failbackCommitted)
	fmt.Fprintf(out, "\n$ grep -E '%s' %s   (since the restart)\n%s", logPattern(), c.logFile("r1"), logSince(c.logFile("r1"), logMark, 12))
	if err := dl.wait(time.Duration(second.size/second.rate)*time.Second + electionTimeout + 30*time.Second); err != nil {
		rsts, invalid := c.resetCounts(ctx, "r1")
		return fmt.Errorf("the second transfer did not survive the failback (%d of %d bytes; R1 sent %d TCP resets, its conntrack counted %d invalid packets): %w\n%s",
			dl.progress(), second.size, rsts, invalid, err, c.resetClues(ctx))
	}
	rep.failbackStall = dl.longestStall()
	fmt.Fprintf(out, "ok  the second transfer completed, every byte intact; it stalled at most %v across the failback\n", rep.failbackStall.Round(10*time.Millisecond))
	views, err := c.waitPeers(ctx)
	if err != nil {
		return fmt.Errorf("after the failback: %w", err)
	}
	fmt.Fprintf(out, "conntrack-sync: %s\n", views)
	c.showAll(ctx, out)
	return nil
}

// resetClues says who may have broken a transfer: the TCP resets each
// router's own stack sent (a packet to a VIP that conntrack did not
// translate reaches it), conntrack's invalid counts, the routers' tables.
func (c ctsyncLab) resetClues(ctx context.Context) string {
	var b strings.Builder
	for _, node := range append(slices.Clone(routers), "lan") {
		n := c.lab.Node(node)
		rsts, err := n.Run(ctx, "nstat", "-az", "TcpOutRsts")
		fmt.Fprintf(&b, "%s: nstat: %s %v\n", node, strings.Join(strings.Fields(rsts), " "), err)
		if node == "lan" {
			continue
		}
		stats, _ := n.Run(ctx, "conntrack", "-S")
		table, _ := n.Run(ctx, "conntrack", "-L")
		fmt.Fprintf(&b, "%s: conntrack -S:\n%s%s: conntrack -L:\n%s", node, stats, node, table)
	}
	return b.String()
}

// resetCounts are the TCP resets a node's own stack sent and the packets
// its conntrack found invalid.
func (c ctsyncLab) resetCounts(ctx context.Context, node string) (rsts, invalid int) {
	n := c.lab.Node(node)
	if out, err := n.Run(ctx, "nstat", "-az", "TcpOutRsts"); err == nil {
		for line := range strings.Lines(out) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "TcpOutRsts" {
				rsts, _ = strconv.Atoi(f[1])
			}
		}
	}
	if out, err := n.Run(ctx, "conntrack", "-S"); err == nil {
		for _, f := range strings.Fields(out) {
			if v, ok := strings.CutPrefix(f, "invalid="); ok {
				k, _ := strconv.Atoi(v)
				invalid += k
			}
		}
	}
	return rsts, invalid
}

// reconnectR1 plugs R1's cables back in; it is idempotent.
func (c ctsyncLab) reconnectR1() error {
	r1 := c.lab.Node("r1")
	var errs []error
	for _, port := range r1Ports {
		errs = append(errs, r1.RestorePort(port))
	}
	errs = append(errs, r1.SetLinkUp(syncLink))
	return errors.Join(errs...)
}

// removeAddrs deletes the addresses from whichever of the node's
// interfaces carries them.
func removeAddrs(n *netlab.Node, ips ...string) error {
	h := n.Netlink()
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("%s: list addresses: %w", n.Name(), err)
	}
	for _, a := range addrs {
		for _, ip := range ips {
			if a.IP.String() == ip {
				link, err := h.LinkByIndex(a.LinkIndex)
				if err == nil {
					err = h.AddrDel(link, &a)
				}
				if err != nil {
					return fmt.Errorf("%s: remove %s: %w", n.Name(), a.IPNet, err)
				}
			}
		}
	}
	return nil
}

// waitR2Alone waits until R2's vrrpd is MASTER of every group and R2
// carries both VIPs; R1's vrrpd is dead and not asked.
func (c ctsyncLab) waitR2Alone(ctx context.Context) error {
	return netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		groups, err := c.vrrp.groups(ctx, "r2")
		if err != nil {
			return false, err.Error()
		}
		for _, g := range groups {
			if g.State != vrrpv1.State_STATE_MASTER {
				return false, fmt.Sprintf("R2's %s is %s", groupKey(g), g.State)
			}
		}
		held, err := c.holds("r2", ctsyncOutsideVIP, ctsyncInsideVIP)
		if err != nil {
			return false, err.Error()
		}
		return len(groups) > 0 && held, "R2 does not carry both VIPs"
	})
}

// holds says whether the node's kernel carries every address.
func (c ctsyncLab) holds(node string, ips ...string) (bool, error) {
	addrs, err := c.lab.Node(node).Netlink().AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false, fmt.Errorf("%s: list addresses: %w", node, err)
	}
	found := 0
	for _, ip := range ips {
		for _, a := range addrs {
			if a.IP.String() == ip {
				found++
				break
			}
		}
	}
	return found == len(ips), nil
}

// cacheConnection finds the connection from ISP1's port in a router's
// cache (internal-cache or external-cache) and describes it; "" when the
// cache lacks it.
func (c ctsyncLab) cacheConnection(ctx context.Context, node, cache string, port int) (string, error) {
	out, err := c.ctl(ctx, node, "show", "conntrack-sync", cache, "main", "--json")
	if err != nil {
		return "", err
	}
	type tuple struct {
		Src     string `json:"src"`
		Dst     string `json:"dst"`
		SrcPort int    `json:"srcPort"`
		DstPort int    `json:"dstPort"`
	}
	// The listing streams: one or more JSON objects.
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var chunk struct {
			Entries []struct {
				Orig, Reply  tuple
				ProtocolName string   `json:"protocolName"`
				State        string   `json:"state"`
				Status       []string `json:"status"`
			} `json:"entries"`
		}
		if err := dec.Decode(&chunk); err == io.EOF {
			return "", nil
		} else if err != nil {
			return "", fmt.Errorf("%s: parse show conntrack-sync %s main --json: %w", node, cache, err)
		}
		for _, e := range chunk.Entries {
			if e.Orig.SrcPort == port && e.Orig.Src == ctsyncISP1 {
				return fmt.Sprintf("%s %s %s:%d -> %s:%d, replies from %s:%d [%s]", e.ProtocolName, e.State,
					e.Orig.Src, e.Orig.SrcPort, e.Orig.Dst, e.Orig.DstPort, e.Reply.Src, e.Reply.SrcPort, strings.Join(e.Status, " ")), nil
			}
		}
	}
}

// waitExternalHas waits until the router's external cache holds the
// connection from ISP1's port.
func (c ctsyncLab) waitExternalHas(ctx context.Context, node string, port int) error {
	return netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		found, err := c.cacheConnection(ctx, node, "external-cache", port)
		if err != nil {
			return false, err.Error()
		}
		return found != "", fmt.Sprintf("%s's external cache lacks the connection from port %d", node, port)
	})
}

// showConnection prints the connection as a router's cache holds it.
func (c ctsyncLab) showConnection(ctx context.Context, out io.Writer, node, cache string, port int) {
	found, err := c.cacheConnection(ctx, node, cache, port)
	if err != nil {
		found = err.Error()
	}
	fmt.Fprintf(out, "%s %s: %s\n", clusterNodeName(node), cache, found)
}

// fileSize is where a log ends now: logSince prints what comes after.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// failoverLogMessages pick the log lines that tell a failover's story.
var failoverLogMessages = []string{"state transition", "committed", "takeover gate", "whole table", "demotion", "sync peer"}

// logPattern is failoverLogMessages for grep -E.
func logPattern() string { return strings.Join(failoverLogMessages, "|") }

// logSince returns at most n of the lines the log received after offset
// that tell a failover's story.
func logSince(path string, offset int64, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error() + "\n"
	}
	if offset > int64(len(data)) {
		offset = 0
	}
	var lines []string
	for line := range strings.Lines(string(data[offset:])) {
		if slices.ContainsFunc(failoverLogMessages, func(m string) bool { return strings.Contains(line, m) }) {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... (%d more lines)\n", len(lines)-n))
	}
	return strings.Join(lines, "")
}

// localPort is the client's port, as the caches show it (sport=).
func (d *download) localPort() int { return d.conn.LocalAddr().(*net.TCPAddr).Port }
