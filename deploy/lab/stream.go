package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// The long transfer of ctsync-failover: the client asks for size bytes at
// rate bytes/s of a pattern drawn from a seed, the server sends them
// paced, and the client checks every byte, so that a takeover that loses
// or garbles data cannot pass for one that works. ctsyncd/e2e's streams are
// the same netlab paced streams.

// streamServer is the server of chapter 4 on the LAN host, 172.16.0.33:80.
type streamServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startStreamServer(n *netlab.Node) (*streamServer, error) {
	ln, err := n.ListenTCP(ctsyncServer)
	if err != nil {
		return nil, err
	}
	s := &streamServer{ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *streamServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			var b [netlab.PacedRequestSize]byte
			if _, err := io.ReadFull(conn, b[:]); err != nil {
				return
			}
			netlab.SendPaced(conn, netlab.ParsePacedRequest(b[:]))
		}()
	}
}

// Close stops the server and its connections.
func (s *streamServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// download is a transfer under way: the client's side.
type download struct {
	conn    net.Conn
	size    int64
	started time.Time
	done    chan error

	mu        sync.Mutex
	received  int64
	lastRead  time.Time
	stallFrom time.Time // stalls ending before this do not count
	stall     time.Duration
	finished  time.Time
}

// startDownload connects from n to addr and receives size bytes sent at
// rate bytes/s, comparing each with the pattern.
func startDownload(ctx context.Context, n *netlab.Node, addr string, size, rate int64) (*download, error) {
	dctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	conn, err := n.DialTCP(dctx, addr)
	if err != nil {
		return nil, err
	}
	req := netlab.PacedRequest{Seed: rand.Uint64(), Size: uint64(size), Rate: uint64(rate)}
	if _, err := conn.Write(req.Marshal()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send the request to %s: %w", addr, err)
	}
	now := time.Now()
	d := &download{conn: conn, size: size, started: now, lastRead: now, done: make(chan error, 1)}
	go func() { d.done <- d.receive(req.Seed) }()
	return d, nil
}

// receive reads the transfer and compares it with the pattern.
func (d *download) receive(seed uint64) error {
	if err := netlab.ReceivePaced(d.conn, seed, d.size, d.read); err != nil {
		return err
	}
	d.mu.Lock()
	d.finished = time.Now()
	d.mu.Unlock()
	return nil
}

// read notes progress and the gap since the last read.
func (d *download) read(total int64) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stallFrom.IsZero() && now.After(d.stallFrom) {
		d.stall = max(d.stall, now.Sub(d.lastRead))
	}
	d.received, d.lastRead = total, now
}

// markStallsFrom makes longestStall count only the gaps that end after t.
func (d *download) markStallsFrom(t time.Time) {
	d.mu.Lock()
	d.stallFrom, d.stall = t, 0
	d.mu.Unlock()
}

func (d *download) progress() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.received
}

func (d *download) longestStall() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stall
}

// elapsed is how long the whole transfer took, once done.
func (d *download) elapsed() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.finished.Sub(d.started)
}

// waitProgress waits until n more bytes have arrived, or the transfer ends.
func (d *download) waitProgress(ctx context.Context, n int64) error {
	want := d.progress() + n
	return netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		select {
		case err := <-d.done:
			d.done <- err // keep it for wait
			if err != nil {
				return true, ""
			}
		default:
		}
		return d.progress() >= want, fmt.Sprintf("the transfer is at %d bytes, waiting for %d", d.progress(), want)
	})
}

// wait waits for the transfer to complete, at most timeout.
func (d *download) wait(timeout time.Duration) error {
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(timeout):
		return errors.New("not complete after " + timeout.String())
	}
}

func (d *download) close() { d.conn.Close() }
