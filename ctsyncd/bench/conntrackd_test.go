//go:build e2e

package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hasuite/hasuite/pkg/benchdoc"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// conntrackd is the reference: Debian's conntrack-tools.
const conntrackdPath = "/usr/sbin/conntrackd"

var conntrackdDaemon = daemon{
	name: "conntrackd",
	missing: func() string {
		if _, err := os.Stat(conntrackdPath); err != nil {
			return "conntrackd is not installed (apt-get install conntrackd; make deps installs it)"
		}
		return ""
	},
	version: func() string { return conntrackdVersion(benchdoc.CommandVersion(conntrackdPath, "-v")) },
	start:   startConntrackd,
}

// conntrackdConfig is Debian's FTFW example (multicast on the dedicated
// link, its socket and netlink buffer sizes) with what running two
// daemons side by side needs (FIELD-NOTES: distinct LockFile, UNIX Path,
// LogFile, `Systemd no`), a HashLimit above 2 × 100k, no filter (the
// generator's flows are all forwarded ones). defaults leaves the netlink
// event buffer at conntrackd's default (rmem_default, growing on overrun
// only up to NetlinkBufferSizeMaxGrowth's default).
func conntrackdConfig(dir, self string, defaults bool) string {
	netlinkBuffer := "\tNetlinkBufferSize 2097152\n\tNetlinkBufferSizeMaxGrowth 8388608\n"
	if defaults {
		netlinkBuffer = ""
	}
	return fmt.Sprintf(`Sync {
	Mode FTFW {
	}
	Multicast {
		IPv4_address 225.0.0.50
		Group 3780
		IPv4_interface %s
		Interface eth1
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
}
General {
	Systemd no
	HashSize 32768
	HashLimit 524288
	LogFile %s
	LockFile %s
	UNIX {
		Path %s
	}
%s}
`, self, filepath.Join(dir, "conntrackd.log"), filepath.Join(dir, "conntrackd.lock"), filepath.Join(dir, "conntrackd.ctl"), netlinkBuffer)
}

// conntrackdNode is conntrackd on one router.
type conntrackdNode struct {
	node *netlab.Node
	dir  string
	proc *netlab.Process
}

func (n *conntrackdNode) conf() string { return filepath.Join(n.dir, "conntrackd.conf") }
func (n *conntrackdNode) ctl() string  { return filepath.Join(n.dir, "conntrackd.ctl") }
func (n *conntrackdNode) lock() string { return filepath.Join(n.dir, "conntrackd.lock") }
func (n *conntrackdNode) log() string  { return filepath.Join(n.dir, "conntrackd.log") }

type conntrackdPair struct{ r1, r2 *conntrackdNode }

func startConntrackd(ctx context.Context, lab *netlab.Lab, dir string, defaults bool) (pair, error) {
	p := &conntrackdPair{}
	for _, r := range []struct {
		node *netlab.Node
		addr string
		dst  **conntrackdNode
	}{{lab.Node("r1"), r1Sync, &p.r1}, {lab.Node("r2"), r2Sync, &p.r2}} {
		n := &conntrackdNode{node: r.node, dir: filepath.Join(dir, r.node.Name())}
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(n.conf(), []byte(conntrackdConfig(n.dir, r.addr, defaults)), 0o644); err != nil {
			return nil, err
		}
		// A killed conntrackd leaves its lock file and refuses to start
		// again while it exists (FIELD-NOTES); so does its socket.
		_ = os.Remove(n.lock())
		_ = os.Remove(n.ctl())
		var err error
		if n.proc, err = r.node.Start(ctx, conntrackdPath, "-C", n.conf()); err != nil {
			_ = p.stop()
			return nil, err
		}
		*r.dst = n
	}
	// Up: both answer on their UNIX socket and have heard the other's
	// first FTFW message, so R1's first updates do not go to a deaf peer.
	err := netlab.Poll(ctx, patience, func() (bool, string) {
		for _, n := range []*conntrackdNode{p.r1, p.r2} {
			if n.proc.Exited() {
				return false, fmt.Sprintf("conntrackd on %s exited: %s", n.node.Name(), lastLines(n.proc.Output(), n.log()))
			}
			s, err := conntrackdStats(ctx, n.ctl())
			if err != nil {
				return false, fmt.Sprintf("%s: %v", n.node.Name(), err)
			}
			if recv, ok := statField(s, packetsRecvRE); !ok || recv < 1 {
				return false, fmt.Sprintf("%s has received no sync message yet", n.node.Name())
			}
		}
		return true, ""
	})
	if err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("conntrackd pair: %w", err)
	}
	return p, nil
}

func (p *conntrackdPair) external(ctx context.Context) (int, error) {
	s, err := conntrackdStats(ctx, p.r2.ctl())
	if err != nil {
		return 0, err
	}
	n, ok := externalCurrent(s)
	if !ok {
		return 0, fmt.Errorf("no external cache count in conntrackd's statistics:\n%s", s)
	}
	return n, nil
}

func (p *conntrackdPair) failPrimary() error { return killProcess(p.r1.proc) }

// takeover is what primary-backup.sh does on R2 first: `conntrackd -c`,
// the commit of the external cache, which returns once it is done.
func (p *conntrackdPair) takeover(ctx context.Context) (time.Duration, error) {
	if out, err := p.r2.node.Run(ctx, conntrackdPath, "-C", p.r2.conf(), "-c"); err != nil {
		return 0, fmt.Errorf("conntrackd -c: %w: %s", err, out)
	}
	log, err := os.ReadFile(p.r2.log())
	if err != nil {
		return 0, err
	}
	d, _ := commitTook(string(log))
	return d, nil
}

func (p *conntrackdPair) pids(node string) []int {
	n := p.r1
	if node == "r2" {
		n = p.r2
	}
	return netlab.ProcessTree(n.proc.Pid())
}

func (p *conntrackdPair) overruns(ctx context.Context) (int, error) {
	out, err := p.r1.node.Run(ctx, conntrackdPath, "-C", p.r1.conf(), "-s", "runtime")
	if err != nil {
		return 0, err
	}
	n, ok := statField(out, overrunRE)
	if !ok {
		return 0, fmt.Errorf("no netlink overrun counter in `conntrackd -s runtime`:\n%s", out)
	}
	return n, nil
}

// stop ends both daemons with SIGTERM (they remove their lock files),
// SIGKILL after 5 s.
func (p *conntrackdPair) stop() error {
	var errs []error
	for _, n := range []*conntrackdNode{p.r1, p.r2} {
		if n == nil || n.proc == nil {
			continue
		}
		if err := n.proc.Stop(5 * time.Second); err != nil && !isSignalExit(err) {
			errs = append(errs, err)
		}
		_ = os.Remove(n.lock())
	}
	return errors.Join(errs...)
}

// isSignalExit reports whether err is only a daemon's exit status after
// the signal that stopped it.
func isSignalExit(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true
		}
	}
	return false
}

// conntrackdRequestStats is STATS in conntrackd's include/conntrackd.h:
// what `conntrackd -s` sends. Speaking the UNIX socket directly makes a
// poll every few milliseconds cheap (no client process per poll).
const conntrackdRequestStats = 21

// conntrackdStats is the text `conntrackd -C conf -s` prints: the client
// writes the request as a native int and reads until the daemon closes.
func conntrackdStats(ctx context.Context, ctl string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", ctl)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(binary.NativeEndian.AppendUint32(nil, conntrackdRequestStats)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("read conntrackd statistics: %w", err)
	}
	return string(b), nil
}

var (
	// "current active connections:\t    3" under "cache external:".
	currentRE = regexp.MustCompile(`current active connections:\s+(\d+)`)
	// "       1 Pckts sent     1 Pckts recv" of the sync traffic.
	packetsRecvRE = regexp.MustCompile(`(\d+) Pckts recv`)
	// "netlink overrun:\t\t    0" of `-s runtime`.
	overrunRE = regexp.MustCompile(`netlink overrun:\s+(\d+)`)
	// "commit has taken 0.000284 seconds" in the log.
	commitRE = regexp.MustCompile(`commit has taken (\d+\.\d+) seconds`)
)

// externalCurrent is the external cache's "current active connections"
// in conntrackd's statistics.
func externalCurrent(stats string) (int, bool) {
	_, rest, ok := strings.Cut(stats, "cache external:")
	if !ok {
		return 0, false
	}
	return statField(rest, currentRE)
}

// statField is re's first number in s.
func statField(s string, re *regexp.Regexp) (int, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// commitTook is the duration of the last commit conntrackd logged.
func commitTook(log string) (time.Duration, bool) {
	all := commitRE.FindAllStringSubmatch(log, -1)
	if len(all) == 0 {
		return 0, false
	}
	s, err := strconv.ParseFloat(all[len(all)-1][1], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(s * float64(time.Second)), true
}

// conntrackdVersion shortens `conntrackd -v`'s first line
// ("Connection tracking userspace daemon v1.4.7. Licensed under GPLv2.")
// to "conntrackd 1.4.7".
func conntrackdVersion(line string) string {
	if m := versionRE.FindStringSubmatch(line); m != nil {
		return "conntrackd " + m[1]
	}
	return line
}

var versionRE = regexp.MustCompile(`\bv(\d+\.\d+(?:\.\d+)*)\b`)

// lastLines is the tail of a daemon's output and of its log file, for an
// error message.
func lastLines(output, logFile string) string {
	tail := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		return strings.Join(lines[max(0, len(lines)-5):], "\n")
	}
	log, _ := os.ReadFile(logFile)
	return tail(output) + "\n" + tail(string(log))
}
