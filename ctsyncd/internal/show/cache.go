package show

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// Column widths of the cache listings, from the guide's one header line
// the extraction left intact (CS-O02).
const (
	sourceWidth      = 37
	destinationWidth = 38
)

// Section headings, printed only when both tables are shown (CS-O02).
const (
	mainHeading   = "\nMain Table Entries:\n\n"
	expectHeading = "\nExpect Table Entries:\n\n"
)

// CacheWriter renders `show conntrack-sync internal-cache|external-cache
// [main|expect]` (CS-O02) as the chunks of a ShowCache stream arrive:
// each chunk's rows are written to w in one Write, so a cache of 100k
// entries never becomes one string. Feed it every chunk with Write, then
// call Close. It is not safe for concurrent use.
//
// The canonical rendering pads the columns (Source to 37 characters,
// Destination to 38, then Protocol); a longer field, as an IPv6 address
// with its port can be, is followed by one space instead, so columns
// never run into each other.
type CacheWriter struct {
	w      io.Writer
	buf    []byte
	both   bool
	header bool // the header chunk was seen
	expect bool // the expect table has begun (its heading written if due)
	done   bool // nothing more to write (not configured)
	err    error
}

// NewCacheWriter returns a CacheWriter writing to w.
func NewCacheWriter(w io.Writer) *CacheWriter { return &CacheWriter{w: w} }

// Write renders one chunk. The first must be the header. Errors of w are
// returned, and again by every later call.
func (c *CacheWriter) Write(chunk *ctsyncv1.ShowCacheResponse) error {
	if c.err != nil {
		return c.err
	}
	if c.done {
		return nil
	}
	c.buf = c.buf[:0]
	switch ch := chunk.GetChunk().(type) {
	case *ctsyncv1.ShowCacheResponse_Header:
		if c.header {
			return c.fail(errors.New("show cache: a second header in the stream"))
		}
		c.header = true
		h := ch.Header
		if !h.GetEnabled() {
			c.done = true
			c.buf = append(c.buf, NotConfigured...)
			break
		}
		c.buf = appendRow(c.buf, "Source", "Destination", "Protocol")
		c.both = h.GetTable() == ctsyncv1.Table_TABLE_UNSPECIFIED
		if c.both {
			c.buf = append(c.buf, mainHeading...)
		}
	case *ctsyncv1.ShowCacheResponse_Entries:
		if !c.header {
			return c.fail(errors.New("show cache: entries before the header"))
		}
		if c.expect {
			return c.fail(errors.New("show cache: main table entries after the expect table's"))
		}
		for _, e := range ch.Entries.GetEntries() {
			c.buf = AppendEntryRow(c.buf, e)
		}
	case *ctsyncv1.ShowCacheResponse_Expects:
		if !c.header {
			return c.fail(errors.New("show cache: expectations before the header"))
		}
		c.startExpect()
		for _, x := range ch.Expects.GetExpects() {
			c.buf = AppendExpectRow(c.buf, x)
		}
	}
	return c.flush()
}

// Close writes what an empty table still owes (the expect heading when
// both tables are shown). A stream that ended before its header is an
// error: the daemon went away.
func (c *CacheWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	if !c.header {
		return c.fail(errors.New("show cache: the stream ended before its header"))
	}
	if c.done {
		return nil
	}
	c.buf = c.buf[:0]
	c.startExpect()
	return c.flush()
}

func (c *CacheWriter) startExpect() {
	if c.both && !c.expect {
		c.buf = append(c.buf, expectHeading...)
	}
	c.expect = true
}

func (c *CacheWriter) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return c.fail(err)
	}
	return nil
}

func (c *CacheWriter) fail(err error) error {
	c.err = err
	return err
}

// appendRow appends one padded row.
func appendRow(b []byte, src, dst, proto string) []byte {
	b = appendPadded(b, src, sourceWidth)
	b = appendPadded(b, dst, destinationWidth)
	b = append(b, proto...)
	return append(b, '\n')
}

func appendPadded(b []byte, s string, width int) []byte {
	b = append(b, s...)
	return append(b, spaces[:max(width-len(s), 1)]...)
}

// AppendEntryRow appends a main table row: the original direction's
// source and destination, `ip :port` (a space before the colon, as
// printed) for protocols with ports, the bare address otherwise, and
// `<name> [<number>]` (CS-O02). It allocates nothing once b has room.
func AppendEntryRow(b []byte, e *ctsyncv1.Entry) []byte {
	o := e.GetOrig()
	ports := hasPorts(e.GetProtocol())
	b = appendCell(b, o.GetSrc(), ports, o.GetSrcPort(), false, sourceWidth)
	b = appendCell(b, o.GetDst(), ports, o.GetDstPort(), false, destinationWidth)
	return appendProto(b, e.GetProtocol())
}

// AppendExpectRow appends an expect table row: the expected tuple, a
// port the mask leaves open printed `:any` (CS-O02).
func AppendExpectRow(b []byte, x *ctsyncv1.Expect) []byte {
	t, m := x.GetTuple(), x.GetMask()
	ports := hasPorts(x.GetProtocol())
	b = appendCell(b, t.GetSrc(), ports, t.GetSrcPort(), m.GetSrcPort() == 0, sourceWidth)
	b = appendCell(b, t.GetDst(), ports, t.GetDstPort(), m.GetDstPort() == 0, destinationWidth)
	return appendProto(b, x.GetProtocol())
}

func hasPorts(proto uint32) bool { return proto <= 255 && ct.HasPorts(uint8(proto)) }

// appendCell appends one address column padded to width, at least one
// space after it.
func appendCell(b []byte, ip string, ports bool, port uint32, anyPort bool, width int) []byte {
	start := len(b)
	b = append(b, ip...)
	if ports {
		b = append(b, " :"...)
		if anyPort {
			b = append(b, "any"...)
		} else {
			b = strconv.AppendUint(b, uint64(port), 10)
		}
	}
	return append(b, spaces[:max(width-(len(b)-start), 1)]...)
}

// appendProto appends `<name> [<number>]` and ends the row.
func appendProto(b []byte, proto uint32) []byte {
	b = append(b, protoName(proto)...)
	b = append(b, " ["...)
	b = strconv.AppendUint(b, uint64(proto), 10)
	return append(b, "]\n"...)
}

var spaces = bytes.Repeat([]byte{' '}, max(sourceWidth, destinationWidth))

// protoName is the name of the show commands (`unknown` for IGMP and
// any number ct has no name for, CS-O02).
func protoName(proto uint32) string {
	if proto > 255 {
		return "unknown"
	}
	return ct.ProtoName(uint8(proto))
}

// CacheJSONWriter renders a ShowCache stream for --json as it arrives:
// one object {"header": ..., "entries": [...], "expects": [...]}, each
// entry in protobuf's JSON mapping, written chunk by chunk.
type CacheJSONWriter struct {
	w       io.Writer
	buf     bytes.Buffer
	header  bool
	section int // 0 none open, 1 entries, 2 expects
	n       int // elements in the open section
	err     error
}

// NewCacheJSONWriter returns a CacheJSONWriter writing to w.
func NewCacheJSONWriter(w io.Writer) *CacheJSONWriter { return &CacheJSONWriter{w: w} }

// Write renders one chunk; the first must be the header.
func (c *CacheJSONWriter) Write(chunk *ctsyncv1.ShowCacheResponse) error {
	if c.err != nil {
		return c.err
	}
	c.buf.Reset()
	switch ch := chunk.GetChunk().(type) {
	case *ctsyncv1.ShowCacheResponse_Header:
		if c.header {
			return c.fail(errors.New("show cache: a second header in the stream"))
		}
		c.header = true
		c.buf.WriteString("{\n  \"header\": ")
		if err := appendJSON(&c.buf, ch.Header, "  "); err != nil {
			return c.fail(err)
		}
	case *ctsyncv1.ShowCacheResponse_Entries:
		if !c.header || c.section > 1 {
			return c.fail(errors.New("show cache: entries out of order in the stream"))
		}
		c.open(1)
		for _, e := range ch.Entries.GetEntries() {
			if err := c.element(e); err != nil {
				return err
			}
		}
	case *ctsyncv1.ShowCacheResponse_Expects:
		if !c.header {
			return c.fail(errors.New("show cache: expectations before the header"))
		}
		c.open(2)
		for _, x := range ch.Expects.GetExpects() {
			if err := c.element(x); err != nil {
				return err
			}
		}
	}
	return c.flush()
}

// Close ends the object, with empty arrays for tables without chunks.
func (c *CacheJSONWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	if !c.header {
		return c.fail(errors.New("show cache: the stream ended before its header"))
	}
	c.buf.Reset()
	c.open(1)
	c.open(2)
	c.closeSection()
	c.buf.WriteString("\n}\n")
	return c.flush()
}

// open closes the open array and opens the arrays up to section (1
// entries, 2 expects), so that both keys are always present.
func (c *CacheJSONWriter) open(section int) {
	for c.section < section {
		c.closeSection()
		c.section++
		key := "entries"
		if c.section == 2 {
			key = "expects"
		}
		fmt.Fprintf(&c.buf, ",\n  %q: [", key)
		c.n = 0
	}
}

func (c *CacheJSONWriter) closeSection() {
	if c.section == 0 {
		return
	}
	if c.n > 0 {
		c.buf.WriteString("\n  ")
	}
	c.buf.WriteString("]")
}

// element appends one array element.
func (c *CacheJSONWriter) element(m proto.Message) error {
	if c.n > 0 {
		c.buf.WriteByte(',')
	}
	c.buf.WriteString("\n    ")
	c.n++
	if err := appendJSON(&c.buf, m, "    "); err != nil {
		return c.fail(err)
	}
	return nil
}

func (c *CacheJSONWriter) flush() error {
	if c.buf.Len() == 0 {
		return nil
	}
	if _, err := c.w.Write(c.buf.Bytes()); err != nil {
		return c.fail(err)
	}
	return nil
}

func (c *CacheJSONWriter) fail(err error) error {
	c.err = err
	return err
}
