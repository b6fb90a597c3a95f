package netlab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// ListenTCP opens a TCP listener in the node ("172.16.0.33:80", ":0"). The
// lab closes it at teardown.
func (n *Node) ListenTCP(addr string) (net.Listener, error) {
	ln, err := n.listenTCP(addr)
	if err != nil {
		return nil, err
	}
	if err := n.lab.track(ln); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func (n *Node) listenTCP(addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: listen on tcp %s: %w", n.spec.Name, addr, err)
	}
	return ln, nil
}

// DialTCP connects from the node to addr. The lab closes the connection at
// teardown if the caller has not.
func (n *Node) DialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var conn net.Conn
	err := n.Do(func() error {
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: connect to tcp %s: %w", n.spec.Name, addr, err)
	}
	if err := n.lab.track(conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// EchoServer is a TCP server in a node that sends back every byte it
// receives, on every connection, until closed.
type EchoServer struct {
	ln net.Listener

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// StartTCPEcho starts an echo server listening on addr in the node; Addr
// tells the port when addr asks for any (":0").
func (n *Node) StartTCPEcho(addr string) (*EchoServer, error) {
	ln, err := n.listenTCP(addr)
	if err != nil {
		return nil, err
	}
	s := &EchoServer{ln: ln, conns: map[net.Conn]bool{}}
	if err := n.lab.track(s); err != nil {
		ln.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the address the server listens on.
func (s *EchoServer) Addr() net.Addr { return s.ln.Addr() }

func (s *EchoServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_, _ = io.Copy(conn, conn)
			conn.Close()
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

// Close stops the server and drops its connections.
func (s *EchoServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for conn := range s.conns {
		conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// VerifyEcho sends size bytes of a pseudo-random stream over a connection to
// an echo server and checks that the same bytes come back in order. It can
// be called repeatedly on one connection, before and after a failover. ctx
// bounds the whole exchange.
func VerifyEcho(ctx context.Context, conn net.Conn, size int) error {
	seed := rand.Uint64()
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return err
		}
		defer conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	// Written and read at once: an echo of more than the socket buffers
	// would otherwise deadlock.
	written := make(chan error, 1)
	go func() {
		_, err := io.CopyN(conn, newPattern(seed), int64(size))
		written <- err
	}()
	readErr := compareStream(conn, newPattern(seed), size)
	if readErr != nil {
		// Unblock the writer, which may be stuck on a full buffer.
		_ = conn.SetDeadline(time.Now())
	}
	if err := errors.Join(readErr, <-written); err != nil {
		return fmt.Errorf("echo of %d bytes via %s: %w", size, conn.RemoteAddr(), err)
	}
	return nil
}

// TransferTCP connects from the node to an echo server at addr, checks an
// echo of size bytes with VerifyEcho and closes the connection.
func (n *Node) TransferTCP(ctx context.Context, addr string, size int) error {
	conn, err := n.DialTCP(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := VerifyEcho(ctx, conn, size); err != nil {
		return fmt.Errorf("node %s: %w", n.spec.Name, err)
	}
	return nil
}

// compareStream reads size bytes from r and compares them with want.
func compareStream(r io.Reader, want io.Reader, size int) error {
	got := make([]byte, 32<<10)
	expected := make([]byte, len(got))
	for offset := 0; offset < size; {
		chunk := min(len(got), size-offset)
		n, err := io.ReadFull(r, got[:chunk])
		_, _ = io.ReadFull(want, expected[:n])
		for i := range n {
			if got[i] != expected[i] {
				return fmt.Errorf("byte %d differs: got %#02x, want %#02x", offset+i, got[i], expected[i])
			}
		}
		offset += n
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", offset, err)
		}
	}
	return nil
}

// newPattern returns an endless deterministic byte stream: the same seed
// gives the same bytes, and no stretch of it repeats, so a lost, duplicated
// or reordered segment shows as a mismatch.
func newPattern(seed uint64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return rand.NewChaCha8(key)
}
