package netlab

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Frame is one captured Ethernet frame.
type Frame struct {
	// Time is the kernel's timestamp of the frame.
	Time time.Time
	// Outgoing is true for frames the node sent, false for frames it
	// received.
	Outgoing bool
	// Data is the frame from the Ethernet header on.
	Data []byte
}

// Capture collects the frames crossing one interface of a node, in both
// directions, into memory, for tests to assert on. Start one with
// Node.Capture before causing the traffic.
type Capture struct {
	label  string // "r1:eth0"
	file   *os.File
	filter func(frame []byte) bool

	mu      sync.Mutex
	frames  []Frame
	readErr error

	stopping atomic.Bool // so the reader takes Stop's closing for the end it is
	done     chan struct{}
	stopOnce sync.Once
}

// captureBuffer is the receive buffer asked for, so a burst is not dropped
// while the reader is descheduled.
const captureBuffer = 4 << 20

// Capture starts capturing on the node's interface with an AF_PACKET socket
// opened in the node. Only frames for which filter returns true are kept; a
// nil filter keeps all. The lab stops it at teardown.
func (n *Node) Capture(ifname string, filter func(frame []byte) bool) (*Capture, error) {
	link, err := n.link(ifname)
	if err != nil {
		return nil, err
	}
	var fd int
	// Protocol 0: the socket receives nothing until bound to the interface.
	err = n.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: capture on %s: open a packet socket: %w", n.spec.Name, ifname, err)
	}
	if err := setUpPacketSocket(fd, link.Attrs().Index); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("node %s: capture on %s: %w", n.spec.Name, ifname, err)
	}
	c := &Capture{
		label:  n.spec.Name + ":" + ifname,
		file:   os.NewFile(uintptr(fd), "capture "+n.spec.Name+":"+ifname),
		filter: filter,
		done:   make(chan struct{}),
	}
	if err := n.lab.track(c); err != nil {
		c.file.Close()
		return nil, err
	}
	go c.read()
	return c, nil
}

func setUpPacketSocket(fd, ifindex int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("enable timestamps: %w", err)
	}
	// FORCE passes the system's limit, which root may.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, captureBuffer); err != nil {
		return fmt.Errorf("set the receive buffer: %w", err)
	}
	addr := &unix.SockaddrLinklayer{Protocol: networkOrder16(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, addr); err != nil {
		return fmt.Errorf("bind to interface %d: %w", ifindex, err)
	}
	return nil
}

// networkOrder16 returns v laid out big-endian in memory, as sockaddr_ll's
// protocol field wants.
func networkOrder16(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

func (c *Capture) read() {
	defer close(c.done)
	conn, err := c.file.SyscallConn()
	if err != nil {
		c.fail(err)
		return
	}
	buf := make([]byte, 128<<10) // room for GRO-merged frames
	oob := make([]byte, unix.CmsgSpace(16))
	for {
		var n, oobn int
		var from unix.Sockaddr
		var recvErr error
		err := conn.Read(func(fd uintptr) bool {
			n, oobn, _, from, recvErr = unix.Recvmsg(int(fd), buf, oob, 0)
			return recvErr != unix.EAGAIN
		})
		switch {
		case c.stopping.Load():
			return
		case err != nil:
			c.fail(err)
			return
		case recvErr == unix.EINTR:
			continue
		case recvErr != nil:
			c.fail(recvErr)
			return
		}
		data := buf[:n]
		if c.filter != nil && !c.filter(data) {
			continue
		}
		frame := Frame{Time: timestamp(oob[:oobn]), Data: bytes.Clone(data)}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok {
			frame.Outgoing = ll.Pkttype == unix.PACKET_OUTGOING
		}
		c.mu.Lock()
		c.frames = append(c.frames, frame)
		c.mu.Unlock()
	}
}

func (c *Capture) fail(err error) {
	c.mu.Lock()
	c.readErr = fmt.Errorf("capture on %s: %w", c.label, err)
	c.mu.Unlock()
}

// timestamp extracts the SO_TIMESTAMPNS control message; the time of reading
// stands in if it is missing.
func timestamp(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Now()
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS {
			continue
		}
		// struct timespec: two longs.
		switch len(m.Data) {
		case 16:
			return time.Unix(int64(binary.NativeEndian.Uint64(m.Data)), int64(binary.NativeEndian.Uint64(m.Data[8:])))
		case 8:
			return time.Unix(int64(int32(binary.NativeEndian.Uint32(m.Data))), int64(int32(binary.NativeEndian.Uint32(m.Data[4:]))))
		}
	}
	return time.Now()
}

// Frames returns the frames captured so far, oldest first.
func (c *Capture) Frames() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// WaitPacket waits until a captured frame satisfies match, looking at every
// frame since the capture started, and returns the first that does. It
// fails the test after timeout.
func (c *Capture) WaitPacket(tb testing.TB, timeout time.Duration, match func(frame []byte) bool) Frame {
	tb.Helper()
	var found Frame
	checked := 0
	WaitFor(tb, timeout, func() (bool, string) {
		c.mu.Lock()
		frames, readErr := c.frames, c.readErr
		c.mu.Unlock()
		for ; checked < len(frames); checked++ {
			if match(frames[checked].Data) {
				found = frames[checked]
				return true, ""
			}
		}
		if readErr != nil {
			return false, readErr.Error()
		}
		return false, fmt.Sprintf("%d frames captured on %s, none matching", len(frames), c.label)
	})
	return found
}

// Stop ends the capture; the frames stay readable. It returns the error that
// ended the capture early, if one did.
func (c *Capture) Stop() error {
	c.stopOnce.Do(func() {
		c.stopping.Store(true)
		c.file.Close()
		<-c.done
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// Close stops the capture; the lab calls it at teardown.
func (c *Capture) Close() error { return c.Stop() }
