package netlab

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// A paced stream is a long transfer at a chosen rate whose every byte the
// receiver checks against the pattern: the shape of the guide's "large
// file" in chapter 4, which must go on across a failover. The lab's demo
// and ctsyncd's e2e tests both use it.

// PacedRequest asks a paced sender for Size bytes of the pattern of Seed
// at Rate bytes per second.
type PacedRequest struct{ Seed, Size, Rate uint64 }

// PacedRequestSize is the length of a marshalled PacedRequest.
const PacedRequestSize = 24

// pacedChunk is what the paced sender writes, and the receiver reads, at
// a time.
const pacedChunk = 16 << 10

// Marshal is the request as the client sends it when it connects.
func (r PacedRequest) Marshal() []byte {
	b := make([]byte, PacedRequestSize)
	binary.BigEndian.PutUint64(b, r.Seed)
	binary.BigEndian.PutUint64(b[8:], r.Size)
	binary.BigEndian.PutUint64(b[16:], r.Rate)
	return b
}

// ParsePacedRequest reads a request of PacedRequestSize octets.
func ParsePacedRequest(b []byte) PacedRequest {
	return PacedRequest{Seed: binary.BigEndian.Uint64(b), Size: binary.BigEndian.Uint64(b[8:]), Rate: binary.BigEndian.Uint64(b[16:])}
}

// SendPaced writes req.Size bytes of the pattern at req.Rate, then closes
// its side and waits for the client to close. A write held up by a dead
// path simply waits: TCP goes on once the path works again, which is what
// a failover test is about.
func SendPaced(conn net.Conn, req PacedRequest) {
	src := newPattern(req.Seed)
	buf := make([]byte, pacedChunk)
	start := time.Now()
	for sent := uint64(0); sent < req.Size; {
		n := min(uint64(len(buf)), req.Size-sent)
		_, _ = src.Read(buf[:n])
		if _, err := conn.Write(buf[:n]); err != nil {
			return
		}
		sent += n
		due := start.Add(time.Duration(float64(sent) / float64(req.Rate) * float64(time.Second)))
		time.Sleep(time.Until(due))
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, conn) // until the client closes
}

// ReceivePaced reads size bytes of the pattern of seed from conn,
// comparing each, and calls progress with the bytes checked after every
// read. It fails at the first byte that differs or at a read error.
func ReceivePaced(conn net.Conn, seed uint64, size int64, progress func(int64)) error {
	src := newPattern(seed)
	got, want := make([]byte, pacedChunk), make([]byte, pacedChunk)
	for offset := int64(0); offset < size; {
		n, err := conn.Read(got[:min(int64(len(got)), size-offset)])
		if n > 0 {
			_, _ = src.Read(want[:n])
			for i := range n {
				if got[i] != want[i] {
					return fmt.Errorf("byte %d differs: got %#02x, want %#02x", offset+int64(i), got[i], want[i])
				}
			}
			offset += int64(n)
			progress(offset)
		}
		if err != nil {
			return fmt.Errorf("after %d of %d bytes: %w", offset, size, err)
		}
	}
	return nil
}
