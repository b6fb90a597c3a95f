package netlab

import (
	"net"
	"strings"
	"testing"
)

// A paced stream arrives whole and checked; a changed byte is found.
func TestPacedStream(t *testing.T) {
	req := PacedRequest{Seed: 7, Size: 100 << 10, Rate: 50 << 20}
	if got := ParsePacedRequest(req.Marshal()); got != req {
		t.Fatalf("request round trip: %+v, want %+v", got, req)
	}
	a, b := net.Pipe()
	go func(a net.Conn) { SendPaced(a, req); a.Close() }(a)
	var last int64
	if err := ReceivePaced(b, req.Seed, int64(req.Size), func(n int64) { last = n }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if last != int64(req.Size) {
		t.Errorf("progress ended at %d, want %d", last, req.Size)
	}
	a, b = net.Pipe()
	go func(a net.Conn) { SendPaced(a, req); a.Close() }(a)
	err := ReceivePaced(b, req.Seed+1, int64(req.Size), func(int64) {})
	b.Close()
	if err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("another seed's pattern: %v, want a differing byte", err)
	}
}
