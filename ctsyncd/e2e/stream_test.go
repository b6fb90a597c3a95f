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
// file", a netlab paced stream) and an interactive session, each checking
// every byte it receives against the deterministic pattern the other end
// sends. A connection starts with a mode octet, then the paced request.
const (
	modeDownload byte = 'D'
	modeEcho     byte = 'E'
	// echoSize and echoEvery shape the interactive session: a keystroke-
	// sized message every 100 ms, each echoed back.
	echoSize  = 64
	echoEvery = 100 * time.Millisecond
)

// serveStreams answers download and echo requests on ln until it closes.
func serveStreams(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			var b [1 + netlab.PacedRequestSize]byte
			if _, err := io.ReadFull(conn, b[:]); err != nil {
				return
			}
			switch b[0] {
			case modeDownload:
				netlab.SendPaced(conn, netlab.ParsePacedRequest(b[1:]))
			case modeEcho:
				_, _ = io.Copy(conn, conn)
			}
		}()
	}
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
	req := netlab.PacedRequest{Seed: rand.Uint64(), Size: uint64(size), Rate: uint64(rate)}
	s, conn := dialStream(t, node, name, addr, modeDownload, req)
	go func() {
		defer conn.Close()
		s.done <- netlab.ReceivePaced(conn, req.Seed, int64(size), s.received.Store)
	}()
	return s
}

// startSession connects from node to addr and sends a small message every
// echoEvery, checking each echo, until stopped with finish.
func startSession(t *testing.T, node *netlab.Node, name, addr string) *stream {
	t.Helper()
	req := netlab.PacedRequest{Seed: rand.Uint64()}
	s, conn := dialStream(t, node, name, addr, modeEcho, req)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer conn.Close()
		s.done <- echoSession(ctx, conn, req.Seed, &s.received)
	}()
	return s
}

func dialStream(t *testing.T, node *netlab.Node, name, addr string, mode byte, req netlab.PacedRequest) (*stream, net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	conn, err := node.DialTCP(ctx, addr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, err := conn.Write(append([]byte{mode}, req.Marshal()...)); err != nil {
		t.Fatalf("%s: send the request: %v", name, err)
	}
	return &stream{name: name, done: make(chan error, 1), cancel: func() {}}, conn
}

// echoSession sends and checks one message per echoEvery until ctx ends.
func echoSession(ctx context.Context, conn net.Conn, seed uint64, received *atomic.Int64) error {
	var key [32]byte
	binary.BigEndian.PutUint64(key[:], seed)
	pattern := rand.NewChaCha8(key)
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
