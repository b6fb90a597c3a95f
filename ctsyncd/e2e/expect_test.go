//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// The expectation tests (CS-C04, CS-B02): an FTP client on the Internet
// host logs in to the server through the DNATed outside VIP (Example 4-9)
// via R1. The firewall (Example 4-1) admits a passive data connection
// only as RELATED, which takes the ftp helper's expectation, and only
// nf_nat_ftp's expectation NATs it to the server. R1's expectation must
// therefore reach R2 — with the function that NATs — for a data connection
// opened after R1's death to work.

// ftpLab is the operations lab (R1 master at 100 ms adverts, ctsyncd on
// both routers, R2 synced once) with FTP let through to the server.
type ftpLab struct {
	*opsLab
	srv      *ftpServer
	file     []byte
	internet *netlab.Node
}

func newFTPLab(t *testing.T, conf string) *ftpLab {
	t.Helper()
	o := newOpsLab(t, conf)
	installFTP(t, o.r1)
	installFTP(t, o.r2)
	f := &ftpLab{opsLab: o, file: ftpFile(), internet: o.lab.Node("internet")}
	f.srv = serveFTP(t, o.lab.Node("server"), serverIP, f.file)
	return f
}

// login opens the control connection through the VIP and logs in.
func (f *ftpLab) login(t *testing.T) *ftpClient {
	t.Helper()
	c := dialFTP(t, f.internet, net.JoinHostPort(outsideVIP, fmt.Sprint(ftpPort)))
	c.login(t)
	return c
}

// passiveViaR1 sends verb through R1 and waits until R1's kernel and R2's
// external cache hold the expectation of the data connection it announces.
func (f *ftpLab) passiveViaR1(t *testing.T, c *ftpClient, verb string, synced bool) netip.AddrPort {
	t.Helper()
	data := c.passive(t, verb)
	if data.Addr().String() != outsideVIP {
		t.Fatalf("%s announced %s: want the outside VIP (R1's nf_nat_ftp rewrites the server's address)", verb, data)
	}
	x := waitKernelExpect(t, f.r1.node, data)
	if x.NATTuple.Proto == 0 {
		t.Fatalf("R1's expectation %+v has no NAT information: nf_nat_ftp did not handle it", x)
	}
	if synced {
		f.r2.waitExternalExpect(t, data)
	}
	return data
}

// crashR1 waits until the control connection is quiet, so that nothing
// R1 forwarded is retransmitted through R2, and until R2 has R1's every
// change, the control connection c among them; then it kills R1 and waits
// for R2 to hold the VIPs.
func (f *ftpLab) crashR1(t *testing.T, c *ftpClient) {
	t.Helper()
	f.srv.waitIdle(t)
	f.r2.waitRow(t, "external-cache", tcpRow(c.conn))
	netlab.WaitFor(t, patience, func() (bool, string) {
		st, err := f.r1.syncStatus(t)
		if err != nil {
			return false, err.Error()
		}
		n := st.GetLag().GetEntriesAtRisk()
		return n == 0, fmt.Sprintf("R1 has %d changes R2 has not acknowledged", n)
	})
	t.Log("R1 dies")
	f.r1.crash(t, f.r1.vrrpd, f.r1.ctsyncd)
	f.r2.waitMaster(t)
}

// retrieve opens the data connection to addr through R2 and checks every
// byte of the file.
func (f *ftpLab) retrieve(t *testing.T, c *ftpClient, addr netip.AddrPort) {
	t.Helper()
	start := time.Now()
	got, err := c.fetch(t.Context(), addr, patience)
	if err != nil {
		t.Fatalf("data connection to %s through R2 (after %v): %v", addr, time.Since(start).Round(time.Millisecond), err)
	}
	if diff := sameBytes(got, f.file); diff != "" {
		t.Fatalf("retrieved %s", diff)
	}
}

// TestCS_C04_ExpectSync_FTPDataAfterFailover: with `expect-sync ftp`, the
// expectation itself crosses the failover. The client asks for a passive
// data connection through R1; R1's ftp helper expects it and ctsyncd
// replicates the expectation; R1 dies; only then the client opens the data
// connection, through R2, which admits it as RELATED and DNATs it to the
// server with the expectation R2 committed.
//
// PASV: R1's nf_nat_ftp writes the VIP into the reply, a byte longer than
// the server's address, and from then on shifts the control connection's
// sequence numbers by that byte (the NAT sequence adjustment): R2 must
// hold the same shift, or the control connection stalls after the
// failover. EPSV carries no address and nothing is shifted. Either way the
// whole session continues through R2: RETR, the data, 226 and QUIT after
// the failover.
func TestCS_C04_ExpectSync_FTPDataAfterFailover(t *testing.T) {
	for _, verb := range []string{"PASV", "EPSV"} {
		t.Run(verb, func(t *testing.T) {
			f := newFTPLab(t, syncConfig("expect-sync ftp"))
			c := f.login(t)
			data := f.passiveViaR1(t, c, verb, true)
			if verb == "PASV" {
				if adj := kernelEntry(t, f.r1.node, c.conn).SeqAdjReply; adj.OffsetAfter == 0 {
					t.Fatalf("R1's control entry has no sequence adjustment after PASV (%+v): nf_nat_ftp lengthened nothing, the test proves nothing", adj)
				}
				f.r2.waitExternalSeqAdj(t, c.conn)
			}
			f.crashR1(t, c)
			waitKernelExpect(t, f.r2.node, data)
			if st, err := f.r2.syncStatus(t); err != nil || st.GetLastCommit().GetExpects() == 0 {
				t.Fatalf("R2's last commit wrote no expectation: %v, %v", st.GetLastCommit(), err)
			}
			if verb == "PASV" {
				if adj := kernelEntry(t, f.r2.node, c.conn).SeqAdjReply; adj.OffsetAfter == 0 {
					t.Errorf("R2 committed the control entry without R1's sequence adjustment (%+v)", adj)
				}
			}
			c.do(t, "RETR file", 150)
			f.retrieve(t, c, data)
			c.expect(t, "RETR", 226)
			c.do(t, "QUIT", 221)
		})
	}
}

// dataRefused bounds the wait for the data connection that must fail.
const dataRefused = 10 * time.Second

// TestCS_C04_ExpectSync_FTPWithoutExpectSync is the control: ctsyncd
// syncs the main table only, so the control connection survives the
// failover but the expectation does not, and the data connection through
// R2 fails (it reaches R2 itself, the VIP, and is refused). A new EPSV
// through R2 then works: the path is fine, only the expectation was
// missing. The control connection carries on after PASV lengthened a
// reply because the engine reads helper-NATed entries again for their
// sequence adjustment, which no event announces.
func TestCS_C04_ExpectSync_FTPWithoutExpectSync(t *testing.T) {
	f := newFTPLab(t, syncConfig())
	c := f.login(t)
	data := f.passiveViaR1(t, c, "PASV", false)
	f.r2.waitExternalSeqAdj(t, c.conn)
	f.crashR1(t, c)
	if xs := kernelExpects(t, f.r2.node); len(xs) != 0 {
		t.Fatalf("R2's kernel holds expectations without expect-sync: %+v", xs)
	}
	start := time.Now()
	if got, err := c.fetch(t.Context(), data, dataRefused); err == nil {
		t.Fatalf("the data connection through R2 without the expectation worked (%d bytes): the test proves nothing", len(got))
	} else {
		t.Logf("without the expectation the data connection fails after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	again := c.passive(t, "EPSV")
	c.do(t, "RETR file", 150)
	f.retrieve(t, c, again)
	c.expect(t, "RETR", 226)
	c.do(t, "QUIT", 221)
}

// TestCS_C04_FTPNewPassiveAfterFailover: only the control connection
// crosses the failover (logged in through R1, nothing passive yet); a new
// PASV through R2 works, because R2 committed the master with its ftp
// helper and NAT binding, so R2's own helper and nf_nat_ftp handle it.
func TestCS_C04_FTPNewPassiveAfterFailover(t *testing.T) {
	f := newFTPLab(t, syncConfig("expect-sync ftp"))
	c := f.login(t)
	f.crashR1(t, c)
	data := c.passive(t, "PASV")
	if data.Addr().String() != outsideVIP {
		t.Fatalf("PASV through R2 announced %s: want the outside VIP (R2's nf_nat_ftp rewrites it)", data)
	}
	c.do(t, "RETR file", 150)
	f.retrieve(t, c, data)
	c.expect(t, "RETR", 226)
	c.do(t, "QUIT", 221)
}
