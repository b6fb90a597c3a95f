//go:build e2e

package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// The streams of the acceptance test: a long download (the guide's "large
// file") and an interactive session, each checking every byte it receives
// against the deterministic pattern the other end sends.
const (
	modeDownload byte = 'D'
	modeEcho     byte = 'E'
	// chunk is what the paced sender writes at a time.
	chunk = 16 << 10
	// echoSize and echoEvery shape the interactive session: a keystroke-
	// sized message every 100 ms, each echoed back.
	echoSize  = 64
	echoEvery = 100 * time.Millisecond
)

// request is what a client sends when it connects: the mode, the pattern's
// seed, the download's size and rate.
type request struct {
	mode       byte
	seed, size uint64
	rate       uint64 // bytes per second
}

func (r request) marshal() []byte {
	b := make([]byte, 25)
	b[0] = r.mode
	binary.BigEndian.PutUint64(b[1:], r.seed)
	binary.BigEndian.PutUint64(b[9:], r.size)
	binary.BigEndian.PutUint64(b[17:], r.rate)
	return b
}

// serveStreams answers download and echo requests on ln until it closes.
func serveStreams(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			var b [25]byte
			if _, err := io.ReadFull(conn, b[:]); err != nil {
				return
			}
			req := request{mode: b[0], seed: binary.BigEndian.Uint64(b[1:]),
				size: binary.BigEndian.Uint64(b[9:]), rate: binary.BigEndian.Uint64(b[17:])}
			switch req.mode {
			case modeDownload:
				sendPaced(conn, req)
			case modeEcho:
				_, _ = io.Copy(conn, conn)
			}
		}()
	}
}

// sendPaced writes req.size bytes of the pattern at req.rate. A write
// blocked by a stalled path simply waits: TCP carries on once the path
// works again, which is what the test is about.
func sendPaced(conn net.Conn, req request) {
	pattern := rand.NewChaCha8(seedBytes(req.seed))
	buf := make([]byte, chunk)
	start := time.Now()
	for sent := uint64(0); sent < req.size; {
		n := min(uint64(len(buf)), req.size-sent)
		_, _ = pattern.Read(buf[:n])
		if _, err := conn.Write(buf[:n]); err != nil {
			return
		}
		sent += n
		if due := start.Add(time.Duration(float64(sent) / float64(req.rate) * float64(time.Second))); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	_, _ = io.Copy(io.Discard, conn) // until the client closes
}

func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	return s
}

// stream is one client connection under test.
type stream struct {
	name     string
	received atomic.Int64 // bytes checked so far
	done     chan error   // the result, once
	cancel   context.CancelFunc
}

// progress is the bytes received so far.
func (s *stream) progress() int64 { return s.received.Load() }

// startDownload connects from node to addr and receives size bytes sent at
// rate bytes/s, comparing each with the pattern.
func startDownload(t *testing.T, node *netlab.Node, name, addr string, size, rate int) *stream {
	t.Helper()
	req := request{mode: modeDownload, seed: rand.Uint64(), size: uint64(size), rate: uint64(rate)}
	s, conn := dialStream(t, node, name, addr, req)
	go func() {
		defer conn.Close()
		s.done <- receivePattern(conn, req.seed, size, &s.received)
	}()
	return s
}

// startSession connects from node to addr and sends a small message every
// echoEvery, checking each echo, until stopped with finish.
func startSession(t *testing.T, node *netlab.Node, name, addr string) *stream {
	t.Helper()
	req := request{mode: modeEcho, seed: rand.Uint64()}
	s, conn := dialStream(t, node, name, addr, req)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer conn.Close()
		s.done <- echoSession(ctx, conn, req.seed, &s.received)
	}()
	return s
}

func dialStream(t *testing.T, node *netlab.Node, name, addr string, req request) (*stream, net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	conn, err := node.DialTCP(ctx, addr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, err := conn.Write(req.marshal()); err != nil {
		t.Fatalf("%s: send the request: %v", name, err)
	}
	return &stream{name: name, done: make(chan error, 1), cancel: func() {}}, conn
}

// receivePattern reads size bytes and compares them with the pattern.
func receivePattern(conn net.Conn, seed uint64, size int, received *atomic.Int64) error {
	pattern := rand.NewChaCha8(seedBytes(seed))
	got, want := make([]byte, chunk), make([]byte, chunk)
	for offset := 0; offset < size; {
		n, err := conn.Read(got[:min(len(got), size-offset)])
		_, _ = pattern.Read(want[:n])
		for i := range n {
			if got[i] != want[i] {
				return fmt.Errorf("byte %d differs: got %#02x, want %#02x", offset+i, got[i], want[i])
			}
		}
		offset += n
		received.Store(int64(offset))
		if err != nil {
			return fmt.Errorf("after %d of %d bytes: %w", offset, size, err)
		}
	}
	return nil
}

// echoSession sends and checks one message per echoEvery until ctx ends.
func echoSession(ctx context.Context, conn net.Conn, seed uint64, received *atomic.Int64) error {
	pattern := rand.NewChaCha8(seedBytes(seed))
	out, in := make([]byte, echoSize), make([]byte, echoSize)
	tick := time.NewTicker(echoEvery)
	defer tick.Stop()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	for {
		_, _ = pattern.Read(out)
		if _, err := conn.Write(out); err != nil {
			return ignoreCancel(ctx, err)
		}
		if _, err := io.ReadFull(conn, in); err != nil {
			return ignoreCancel(ctx, err)
		}
		if string(in) != string(out) {
			return fmt.Errorf("echo %d differs", received.Load()/echoSize)
		}
		received.Add(echoSize)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// finish stops a session (a download ends by itself) and returns its
// result, waiting at most timeout.
func (s *stream) finish(timeout time.Duration) error {
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-time.After(timeout):
		return errors.New("still running")
	}
}

// waitProgress waits until every stream has received more than it had.
func waitProgress(t *testing.T, streams ...*stream) {
	t.Helper()
	before := make([]int64, len(streams))
	for i, s := range streams {
		before[i] = s.progress()
	}
	netlab.WaitFor(t, patience, func() (bool, string) {
		for i, s := range streams {
			if s.progress() <= before[i] {
				return false, s.name + " made no progress"
			}
		}
		return true, ""
	})
}

// stalled reports which streams received nothing during d.
func stalled(d time.Duration, streams ...*stream) []string {
	before := make([]int64, len(streams))
	for i, s := range streams {
		before[i] = s.progress()
	}
	time.Sleep(d)
	var names []string
	for i, s := range streams {
		if s.progress() == before[i] {
			names = append(names, s.name)
		}
	}
	return names
}
