package ctnl

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Multicast groups of ctnetlink events (enum nfnetlink_groups).
const (
	groupCTNew      = 1
	groupCTUpdate   = 2
	groupCTDestroy  = 3
	groupExpNew     = 4
	groupExpUpdate  = 5
	groupExpDestroy = 6
)

// sock is a NETLINK_NETFILTER socket in the network namespace of the
// thread that opened it, non-blocking under Go's poller so that Close and
// read deadlines interrupt a blocked read.
type sock struct {
	f  *os.File
	rc syscall.RawConn
	// rcvbuf is the receive buffer the kernel granted (after doubling).
	rcvbuf int
}

func openSocket(groups []int, rcvbuf int) (*sock, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open ctnetlink socket (needs CAP_NET_ADMIN and nf_conntrack_netlink): %w", err)
	}
	fail := func(what string, err error) (*sock, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("ctnetlink socket: %s: %w", what, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fail("bind", err)
	}
	// Errors and ACKs carry only the request's header, not the whole
	// request: a batch of failures then fits the receive buffer.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	for _, g := range groups {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			return fail(fmt.Sprintf("join group %d", g), err)
		}
	}
	if rcvbuf > 0 {
		// FORCE goes beyond net.core.rmem_max (CS-C03 sizes it in MB);
		// without CAP_NET_ADMIN fall back to what rmem_max allows.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
				return fail("set receive buffer", err)
			}
		}
	}
	got, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	f := os.NewFile(uintptr(fd), "ctnetlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ctnetlink socket: %w", err)
	}
	return &sock{f: f, rc: rc, rcvbuf: got}, nil
}

func (s *sock) close() error { return s.f.Close() }

var kernelAddr = &unix.SockaddrNetlink{Family: unix.AF_NETLINK}

// send writes b (one or many netlink messages) in one sendmsg. The kernel
// processes all of them before sendmsg returns.
func (s *sock) send(b []byte) error {
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, kernelAddr)
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

// recv reads one datagram into buf, waiting for it. ENOBUFS (events lost)
// is returned as an error; the socket stays usable.
func (s *sock) recv(buf []byte) (int, error) {
	var n int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), buf)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

func (s *sock) setReadDeadline(t time.Time) error { return s.f.SetReadDeadline(t) }

func isClosed(err error) bool {
	return errors.Is(err, os.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

// parseError reads an NLMSG_ERROR payload: 0 is an ACK.
func parseError(payload []byte) (syscall.Errno, error) {
	if len(payload) < 4 {
		return 0, malformed("netlink error of %d octets", len(payload))
	}
	code := int32(nativeEndian.Uint32(payload[:4]))
	if code > 0 {
		return syscall.Errno(code), nil
	}
	return syscall.Errno(-code), nil
}
