//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
	"github.com/hasuite/hasuite/pkg/netlab"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// A minimal FTP server and client for the expectation tests (CS-C04):
// USER, PASS, TYPE, PASV, EPSV, RETR and QUIT, one-line replies, passive
// mode only, a deadline on every read, write and accept.

const (
	ftpPort = 21
	// ftpIdle bounds the server's wait for a command: a control
	// connection idles across a failover.
	ftpIdle = 2 * patience
	// ftpFileSize is the file the tests retrieve.
	ftpFileSize = 1 << 20
)

// ftpRules let FTP through the routers the way Example 4-9 lets HTTP:
// the control connection to the outside VIP is DNATed to the server and
// admitted as NEW; the data connection is admitted only as RELATED (the
// firewall's first rule), so it needs the ftp helper's expectation, which
// also NATs it (nf_nat_ftp). Kernels since 6.0 assign no helper by
// themselves: the raw table attaches it to the control connection.
var ftpRules = [][]string{
	{"-t", "raw", "-A", "PREROUTING", "-i", "eth0+", "-p", "tcp", "--dport", fmt.Sprint(ftpPort), "-j", "CT", "--helper", "ftp"},
	{"-t", "nat", "-A", "PREROUTING", "-i", "eth0+", "-d", outsideVIP, "-p", "tcp", "--dport", fmt.Sprint(ftpPort),
		"-j", "DNAT", "--to-destination", serverIP},
	// Before Example 4-1's final DROP of the outside's traffic.
	{"-t", "filter", "-I", "FORWARD", "2", "-i", "eth0+", "-p", "tcp", "-d", serverIP, "--dport", fmt.Sprint(ftpPort),
		"-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"},
}

// installFTP adds ftpRules to a router.
func installFTP(t *testing.T, r *router) {
	t.Helper()
	for _, rule := range ftpRules {
		if out, err := r.node.Run(t.Context(), "iptables", rule...); err != nil {
			t.Fatalf("iptables %s on %s: %v\n%s", strings.Join(rule, " "), r.node.Name(), err, out)
		}
	}
}

// ftpServer is the server side: it tracks its connections to close them
// when the test ends and to tell when the control connections are idle.
type ftpServer struct {
	mu      sync.Mutex
	conns   []*net.TCPConn // control connections
	closers []io.Closer    // everything to close at the end
}

// track registers c to close at the end; control says it is a control
// connection.
func (srv *ftpServer) track(c io.Closer, control bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.closers = append(srv.closers, c)
	if control {
		srv.conns = append(srv.conns, c.(*net.TCPConn))
	}
}

// serveFTP runs the server on node's ip:21 until the test ends; RETR of
// any name sends file.
func serveFTP(t *testing.T, node *netlab.Node, ip string, file []byte) *ftpServer {
	t.Helper()
	ln, err := node.ListenTCP(net.JoinHostPort(ip, fmt.Sprint(ftpPort)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &ftpServer{}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		srv.mu.Lock()
		for _, c := range srv.closers {
			_ = c.Close()
		}
		srv.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			srv.track(conn, true)
			wg.Go(func() {
				s := &ftpSession{srv: srv, node: node, ip: ip, file: file, conn: conn, r: bufio.NewReader(conn)}
				if err := s.serve(); err != nil && !errors.Is(err, net.ErrClosed) {
					t.Logf("ftp server: %v", err)
				}
			})
		}
	})
	return srv
}

// waitIdle waits until the client has acknowledged everything the server
// sent on its control connections: a reply still in flight when a router
// dies would be retransmitted through the other one, whose ftp helper
// would then create the expectation by itself and prove nothing.
func (srv *ftpServer) waitIdle(t *testing.T) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for _, c := range srv.conns {
			raw, err := c.SyscallConn()
			if err != nil {
				return false, err.Error()
			}
			var info *unix.TCPInfo
			cerr := raw.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
			if err = errors.Join(cerr, err); err != nil {
				return false, "control connection's TCP_INFO: " + err.Error()
			}
			if info.Unacked > 0 {
				return false, fmt.Sprintf("the server's control connection has %d segments unacknowledged", info.Unacked)
			}
		}
		return true, ""
	})
}

// ftpSession is one control connection on the server.
type ftpSession struct {
	srv  *ftpServer
	node *netlab.Node
	ip   string
	file []byte
	conn net.Conn
	r    *bufio.Reader
	data net.Listener // the passive listener, nil before PASV/EPSV
}

func (s *ftpSession) reply(format string, args ...any) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(patience))
	_, err := fmt.Fprintf(s.conn, format+"\r\n", args...)
	return err
}

func (s *ftpSession) serve() error {
	defer s.conn.Close()
	defer s.closeData()
	if err := s.reply("220 hasuite test server"); err != nil {
		return err
	}
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(ftpIdle))
		line, err := s.r.ReadString('\n')
		if err != nil {
			return err
		}
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(verb) {
		case "USER":
			err = s.reply("331 password please")
		case "PASS":
			err = s.reply("230 logged in")
		case "TYPE":
			err = s.reply("200 type set")
		case "PASV", "EPSV":
			err = s.passive(strings.ToUpper(verb))
		case "RETR":
			err = s.retr()
		case "QUIT":
			return s.reply("221 bye")
		default:
			err = s.reply("502 %s not implemented", verb)
		}
		if err != nil {
			return err
		}
	}
}

// passive opens a fresh data listener on an ephemeral port and announces
// it: PASV with the server's own address, which the routers' nf_nat_ftp
// rewrites to the VIP; EPSV with the port alone.
func (s *ftpSession) passive(verb string) error {
	s.closeData()
	ln, err := s.node.ListenTCP(net.JoinHostPort(s.ip, "0"))
	if err != nil {
		return s.reply("425 cannot listen: %v", err)
	}
	s.data = ln
	s.srv.track(ln, false)
	port := ln.Addr().(*net.TCPAddr).Port
	if verb == "EPSV" {
		return s.reply("229 Entering Extended Passive Mode (|||%d|)", port)
	}
	return s.reply("227 Entering Passive Mode (%s,%d,%d)", strings.ReplaceAll(s.ip, ".", ","), port>>8, port&0xff)
}

func (s *ftpSession) closeData() {
	if s.data != nil {
		_ = s.data.Close()
		s.data = nil
	}
}

// retr sends the file on the next data connection, which may have been
// opened before the command or may come after the 150.
func (s *ftpSession) retr() error {
	if s.data == nil {
		return s.reply("425 use PASV or EPSV first")
	}
	if err := s.reply("150 opening BINARY mode data connection"); err != nil {
		return err
	}
	ln := s.data.(*net.TCPListener)
	defer s.closeData()
	_ = ln.SetDeadline(time.Now().Add(ftpIdle))
	conn, err := ln.Accept()
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		return s.reply("425 no data connection: %v", err)
	}
	s.srv.track(conn, false)
	_ = conn.SetWriteDeadline(time.Now().Add(patience))
	_, err = conn.Write(s.file)
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.reply("426 transfer aborted: %v", err)
	}
	return s.reply("226 transfer complete")
}

// ftpClient is the Internet host's side of a control connection.
type ftpClient struct {
	node *netlab.Node
	conn net.Conn
	r    *bufio.Reader
}

// dialFTP connects from node to addr and reads the greeting.
func dialFTP(t *testing.T, node *netlab.Node, addr string) *ftpClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	conn, err := node.DialTCP(ctx, addr)
	if err != nil {
		t.Fatalf("ftp: %v", err)
	}
	c := &ftpClient{node: node, conn: conn, r: bufio.NewReader(conn)}
	t.Cleanup(func() { _ = conn.Close() })
	if code, text, err := c.read(); err != nil || code != 220 {
		t.Fatalf("ftp: greeting %d %q: %v", code, text, err)
	}
	return c
}

// read reads one reply, waiting at most patience.
func (c *ftpClient) read() (int, string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(patience))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, line, err
	}
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 4 || line[3] != ' ' {
		return 0, line, fmt.Errorf("malformed reply %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	return code, line[4:], err
}

// do sends a command and fails the test unless the reply has code want;
// it returns the reply's text.
func (c *ftpClient) do(t *testing.T, command string, want int) string {
	t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(patience))
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", command); err != nil {
		t.Fatalf("ftp: send %s: %v", command, err)
	}
	return c.expect(t, command, want)
}

// expect reads a reply and fails the test unless its code is want.
func (c *ftpClient) expect(t *testing.T, command string, want int) string {
	t.Helper()
	code, text, err := c.read()
	if err != nil || code != want {
		t.Fatalf("ftp: %s: reply %d %q, want %d: %v", command, code, text, want, err)
	}
	return text
}

// login logs in and selects binary transfers.
func (c *ftpClient) login(t *testing.T) {
	t.Helper()
	c.do(t, "USER anonymous", 331)
	c.do(t, "PASS test@", 230)
	c.do(t, "TYPE I", 200)
}

// passive sends PASV or EPSV and returns the data address the reply
// gives: PASV's as rewritten on the way, EPSV's port on the control
// connection's peer.
func (c *ftpClient) passive(t *testing.T, verb string) netip.AddrPort {
	t.Helper()
	if verb == "EPSV" {
		text := c.do(t, verb, 229)
		port, err := parseEPSV(text)
		if err != nil {
			t.Fatalf("ftp: %v", err)
		}
		peer := c.conn.RemoteAddr().(*net.TCPAddr).AddrPort()
		return netip.AddrPortFrom(peer.Addr().Unmap(), port)
	}
	text := c.do(t, verb, 227)
	ap, err := parsePASV(text)
	if err != nil {
		t.Fatalf("ftp: %v", err)
	}
	return ap
}

// parsePASV reads "Entering Passive Mode (h1,h2,h3,h4,p1,p2)".
func parsePASV(text string) (netip.AddrPort, error) {
	_, rest, ok1 := strings.Cut(text, "(")
	inner, _, ok2 := strings.Cut(rest, ")")
	f := strings.Split(inner, ",")
	if !ok1 || !ok2 || len(f) != 6 {
		return netip.AddrPort{}, fmt.Errorf("PASV reply %q: want (h1,h2,h3,h4,p1,p2)", text)
	}
	var n [6]byte
	for i, s := range f {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("PASV reply %q: %v", text, err)
		}
		n[i] = byte(v)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(n[:4])), uint16(n[4])<<8|uint16(n[5])), nil
}

// parseEPSV reads "Entering Extended Passive Mode (|||port|)".
func parseEPSV(text string) (uint16, error) {
	_, rest, ok1 := strings.Cut(text, "(|||")
	num, _, ok2 := strings.Cut(rest, "|)")
	port, err := strconv.ParseUint(num, 10, 16)
	if !ok1 || !ok2 || err != nil {
		return 0, fmt.Errorf("EPSV reply %q: want (|||port|)", text)
	}
	return uint16(port), nil
}

// fetch opens the data connection to addr, waiting at most timeout for it,
// and reads until the server closes it.
func (c *ftpClient) fetch(ctx context.Context, addr netip.AddrPort, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := c.node.DialTCP(ctx, addr.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(patience))
	var buf bytes.Buffer
	_, err = io.Copy(&buf, conn)
	return buf.Bytes(), err
}

// sameBytes describes how got differs from want, or is empty.
func sameBytes(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("%d bytes, want %d: first difference at offset %d", len(got), len(want), i)
		}
	}
	return fmt.Sprintf("%d bytes, want %d", len(got), len(want))
}

// ftpFile is a file of random content.
func ftpFile() []byte {
	b := make([]byte, ftpFileSize)
	r := rand.NewChaCha8([32]byte{'f', 't', 'p'})
	_, _ = r.Read(b)
	return b
}

// isData reports whether x expects the data connection to addr from the
// Internet host (the tuple as the client sees it, the VIP's port).
func isData(x *ct.Expect, addr netip.AddrPort) bool {
	return x.Tuple.Proto == ct.ProtoTCP && x.Tuple.Dst == addr.Addr() && x.Tuple.DstPort == addr.Port() &&
		x.Tuple.Src == netip.MustParseAddr(internetIP)
}

// kernelExpects are the expectations in the node's kernel.
func kernelExpects(t *testing.T, node *netlab.Node) []ct.Expect {
	t.Helper()
	var xs []ct.Expect
	err := node.Do(func() error {
		conn, err := ctnl.Dial(ctnl.Options{})
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.DumpExpect(t.Context(), func(x *ct.Expect) error { xs = append(xs, *x); return nil })
	})
	if err != nil {
		t.Fatalf("dump %s's expectations: %v", node.Name(), err)
	}
	return xs
}

// kernelEntry is the node's conntrack entry of the client's connection
// conn (the Internet host's side: its original tuple runs from the
// client's address and port to the address it dialled).
func kernelEntry(t *testing.T, node *netlab.Node, conn net.Conn) ct.Entry {
	t.Helper()
	local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	remote := conn.RemoteAddr().(*net.TCPAddr).AddrPort()
	var found *ct.Entry
	err := node.Do(func() error {
		c, err := ctnl.Dial(ctnl.Options{})
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Dump(t.Context(), func(e *ct.Entry) error {
			o := e.Orig
			if o.Proto == ct.ProtoTCP && o.Src == local.Addr() && o.SrcPort == local.Port() &&
				o.Dst == remote.Addr() && o.DstPort == remote.Port() {
				v := *e
				found = &v
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("dump %s's table: %v", node.Name(), err)
	}
	if found == nil {
		t.Fatalf("%s's kernel has no entry %s -> %s", node.Name(), local, remote)
	}
	return *found
}

// waitKernelExpect waits until the node's kernel expects the data
// connection to addr, and returns the expectation.
func waitKernelExpect(t *testing.T, node *netlab.Node, addr netip.AddrPort) ct.Expect {
	t.Helper()
	var found ct.Expect
	netlab.WaitFor(t, patience, func() (bool, string) {
		xs := kernelExpects(t, node)
		for _, x := range xs {
			if isData(&x, addr) {
				found = x
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s's kernel expects no connection to %s: %+v", node.Name(), addr, xs)
	})
	return found
}

// externalRows are the rows of `show conntrack-sync external-cache TABLE
// --json` ("main" rows under "entries", "expect" rows under "expects"):
// the daemon's own view of the peer's table.
func externalRows[T any, P interface {
	*T
	proto.Message
}](t *testing.T, r *router, table string) ([]P, error) {
	out, err := r.cli(t.Context(), t, "show", "conntrack-sync", "external-cache", table, "--json")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var doc struct{ Entries, Expects []json.RawMessage }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return nil, fmt.Errorf("parse the external cache: %v: %s", err, out)
	}
	raws := doc.Entries
	if table == "expect" {
		raws = doc.Expects
	}
	rows := make([]P, len(raws))
	for i, raw := range raws {
		rows[i] = new(T)
		if err := protojson.Unmarshal(raw, rows[i]); err != nil {
			return nil, fmt.Errorf("parse a row of the %s table: %v: %s", table, err, raw)
		}
	}
	return rows, nil
}

// externalExpects are the expectations of the router's external cache.
func (r *router) externalExpects(t *testing.T) ([]*ctsyncv1.Expect, error) {
	return externalRows[ctsyncv1.Expect](t, r, "expect")
}

// waitExternalSeqAdj waits until the router's external cache holds the
// client's connection conn with a reply-direction sequence adjustment.
func (r *router) waitExternalSeqAdj(t *testing.T, conn net.Conn) {
	t.Helper()
	local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	netlab.WaitFor(t, patience, func() (bool, string) {
		es, err := externalRows[ctsyncv1.Entry](t, r, "main")
		if err != nil {
			return false, err.Error()
		}
		for _, e := range es {
			if e.GetOrig().GetSrc() == local.Addr().String() && e.GetOrig().GetSrcPort() == uint32(local.Port()) {
				if e.GetSeqAdjReply().GetOffsetAfter() != 0 {
					return true, ""
				}
				return false, fmt.Sprintf("the external cache's entry of %s has no sequence adjustment yet: %v", local, e)
			}
		}
		return false, fmt.Sprintf("the external cache has no entry from %s", local)
	})
}

// waitExternalExpect waits until the router's external cache holds the
// expectation of the data connection to addr, with its NAT information.
func (r *router) waitExternalExpect(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		xs, err := r.externalExpects(t)
		if err != nil {
			return false, err.Error()
		}
		for _, x := range xs {
			tu := x.GetTuple()
			if tu.GetSrc() == internetIP && tu.GetDst() == addr.Addr().String() && tu.GetDstPort() == uint32(addr.Port()) &&
				x.GetHelper() == "ftp" && x.GetNat() != nil {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s's external cache has no ftp expectation of %s with NAT: %v", r.node.Name(), addr, xs)
	})
}
