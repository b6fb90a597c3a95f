package kernel

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// nftConn is a NETLINK_NETFILTER socket in the Netlink's namespace, opened
// at first use so that a kernel without nf_tables fails only the backup
// drop. Requests wait at most nftTimeout for the kernel's answer.
type nftConn struct {
	// open makes the socket (in the right namespace).
	open func() (int, error)

	mu  sync.Mutex
	fd  int // -1 until opened
	seq uint32

	// noDestroy is set once the kernel refused NFT_MSG_DESTROYTABLE.
	noDestroy atomic.Bool
}

const nftTimeout = 5

func newNFTConn(open func() (int, error)) *nftConn { return &nftConn{open: open, fd: -1} }

func openNetfilterSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return -1, fmt.Errorf("open a netfilter netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind a netfilter netlink socket: %w", err)
	}
	tv := unix.Timeval{Sec: nftTimeout}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("set the receive timeout of a netfilter netlink socket: %w", err)
	}
	return fd, nil
}

func (c *nftConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// socket returns the open socket; the caller holds mu.
func (c *nftConn) socket() (int, error) {
	if c.fd < 0 {
		fd, err := c.open()
		if err != nil {
			return -1, err
		}
		c.fd = fd
	}
	return c.fd, nil
}

// batch sends msgs as one nfnetlink transaction (all or nothing) and
// returns the first error the kernel reports.
func (c *nftConn) batch(msgs [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fd, err := c.socket()
	if err != nil {
		return err
	}
	var buf []byte
	c.seq++
	buf = append(buf, c.stamp(nfMsg(nfnlMsgBatchBegin, unix.NLM_F_REQUEST, unix.AF_UNSPEC, nfnlSubsysNFTables), 0)...)
	pending := map[uint32]bool{}
	for _, m := range msgs {
		c.seq++
		pending[c.seq] = true
		buf = append(buf, c.stamp(m, unix.NLM_F_REQUEST|unix.NLM_F_ACK)...)
	}
	c.seq++
	buf = append(buf, c.stamp(nfMsg(nfnlMsgBatchEnd, unix.NLM_F_REQUEST, unix.AF_UNSPEC, nfnlSubsysNFTables), 0)...)
	if err := unix.Sendto(fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send to nftables: %w", err)
	}
	var first error
	// Every message flagged for an ack gets one answer, an error or not,
	// even when the transaction fails.
	for len(pending) > 0 {
		err := c.receive(fd, func(m syscall.NetlinkMessage) {
			if !pending[m.Header.Seq] || m.Header.Type != unix.NLMSG_ERROR {
				return
			}
			delete(pending, m.Header.Seq)
			if errno := ackErrno(m); errno != nil && first == nil {
				first = errno
			}
		})
		if err != nil {
			return err
		}
	}
	return first
}

// stamp gives a message its sequence number and flags.
func (c *nftConn) stamp(m []byte, flags uint16) []byte {
	native.PutUint16(m[6:], native.Uint16(m[6:])|flags)
	native.PutUint32(m[8:], c.seq)
	return m
}

// receive reads one datagram and hands each message in it to f.
func (c *nftConn) receive(fd int, f func(syscall.NetlinkMessage)) error {
	buf := make([]byte, 1<<16)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("nftables did not answer within %ds", nftTimeout)
	}
	if err != nil {
		return fmt.Errorf("read from nftables: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return fmt.Errorf("parse an nftables answer: %w", err)
	}
	for _, m := range msgs {
		f(m)
	}
	return nil
}

func ackErrno(m syscall.NetlinkMessage) error {
	if len(m.Data) < 4 {
		return unix.EBADMSG
	}
	if code := int32(native.Uint32(m.Data[:4])); code != 0 {
		return unix.Errno(-code)
	}
	return nil
}

// nftChain is what getChain reads of a base chain.
type nftChain struct {
	policy uint32
	device string
}

// getChain reads chain of the netdev table; nil when either is missing.
func (c *nftConn) getChain(table, chain string) (*nftChain, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fd, err := c.socket()
	if err != nil {
		return nil, err
	}
	c.seq++
	seq := c.seq
	req := c.stamp(nftMsg(nftMsgGetChain, 0, nlattr(nftaChainTable, cstr(table)), nlattr(nftaChainName, cstr(chain))), unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("send to nftables: %w", err)
	}
	var found *nftChain
	var answer error
	done := false
	for !done {
		err := c.receive(fd, func(m syscall.NetlinkMessage) {
			if m.Header.Seq != seq {
				return
			}
			switch m.Header.Type {
			case nfnlSubsysNFTables<<8 | nftMsgNewChain:
				found = parseChain(m.Data)
			case unix.NLMSG_ERROR:
				done, answer = true, ackErrno(m)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if errors.Is(answer, unix.ENOENT) {
		return nil, nil
	}
	return found, answer
}

// parseChain reads a NEWCHAIN message's payload (nfgenmsg, attributes).
func parseChain(b []byte) *nftChain {
	ch := &nftChain{policy: nfAccept}
	forAttrs(b[min(4, len(b)):], func(typ uint16, data []byte) {
		switch typ {
		case nftaChainPolicy:
			if len(data) == 4 {
				ch.policy = uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3])
			}
		case nftaChainHook:
			forAttrs(data, func(typ uint16, data []byte) {
				if typ == nftaHookDev && len(data) > 0 {
					ch.device = string(data[:len(data)-1])
				}
			})
		}
	})
	return ch
}

func forAttrs(b []byte, f func(typ uint16, data []byte)) {
	for len(b) >= unix.SizeofNlAttr {
		l := int(native.Uint16(b[0:]))
		if l < unix.SizeofNlAttr || l > len(b) {
			return
		}
		f(native.Uint16(b[2:])&^(nlaFNested|unix.NLA_F_NET_BYTEORDER), b[unix.SizeofNlAttr:l])
		b = b[min(nlaAlign(l), len(b)):]
	}
}
