package ctnl

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"syscall"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// Options size a Conn's batches and buffers; zero values take defaults.
type Options struct {
	// BatchMessages and BatchBytes bound one sendmsg: the kernel handles
	// all its messages in one system call (FIELD-NOTES: 256 per sendmsg
	// is ~5x one request at a time).
	BatchMessages int
	BatchBytes    int
	// RcvBuf is the receive buffer for dumps and errors. A whole batch of
	// failures must fit: 4 MiB by default.
	RcvBuf int
	// MaxErrors is how many errors a Result keeps (8 by default).
	MaxErrors int
}

const (
	DefaultBatchMessages = 256
	DefaultBatchBytes    = 64 << 10
	defaultRcvBuf        = 4 << 20
	defaultMaxErrors     = 8
	recvBufLen           = 64 << 10 // dump datagrams are at most 32 KiB
)

func (o Options) withDefaults() Options {
	if o.BatchMessages <= 0 {
		o.BatchMessages = DefaultBatchMessages
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.RcvBuf <= 0 {
		o.RcvBuf = defaultRcvBuf
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = defaultMaxErrors
	}
	return o
}

// Conn is a request socket: dumps and batched writes, one at a time
// (calls serialise on a mutex). It lives in the network namespace of the
// thread that dialled it.
type Conn struct {
	opts Options
	mu   sync.Mutex
	s    *sock
	seq  uint32
	rx   []byte
	tx   []byte
}

// Dial opens a request socket in the caller's network namespace.
func Dial(opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	s, err := openSocket(nil, opts.RcvBuf)
	if err != nil {
		return nil, err
	}
	return &Conn{opts: opts, s: s, rx: make([]byte, recvBufLen),
		tx: make([]byte, 0, opts.BatchBytes+4096)}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return c.s.close() }

// KernelError is the kernel's refusal of one request.
type KernelError struct {
	Op    string // "create", "update", "delete", "timeout", "create expectation"...
	Key   ct.Key
	XKey  ct.ExpectKey // for expectations
	Errno syscall.Errno
}

func (e *KernelError) Error() string {
	if e.XKey.Tuple.Proto != 0 || e.XKey.Master.Proto != 0 {
		return fmt.Sprintf("%s %s: %v", e.Op, fmtTuple(&e.XKey.Tuple), e.Errno)
	}
	return fmt.Sprintf("%s %s zone %d: %v", e.Op, fmtTuple(&e.Key.Orig), e.Key.Zone, e.Errno)
}

func (e *KernelError) Unwrap() error { return e.Errno }

func fmtTuple(t *ct.Tuple) string {
	if ct.HasPorts(t.Proto) {
		return fmt.Sprintf("%s %s:%d -> %s:%d", ct.ProtoName(t.Proto), t.Src, t.SrcPort, t.Dst, t.DstPort)
	}
	return fmt.Sprintf("%s %s -> %s", ct.ProtoName(t.Proto), t.Src, t.Dst)
}

// Result counts what a batched write did.
type Result struct {
	// Created: entries created; Updated: entries that existed and were
	// changed instead (CS-B11); for Delete and SetTimeout, Done counts
	// entries deleted or changed and Absent those the kernel did not have.
	Created, Updated, Done, Absent, Failed int
	// Errors are the first failures (Options.MaxErrors), in order.
	Errors []error
	// Batches is the number of sendmsg calls.
	Batches int
}

func (r *Result) fail(max int, err error) {
	r.Failed++
	if len(r.Errors) < max {
		r.Errors = append(r.Errors, err)
	}
}

// outcome of one request's answer.
type outcome uint8

const (
	outDone outcome = iota
	outRetry
	outFailed
)

// batcher writes items in batches: encode appends the request for item v
// at its attempt (0 first) without NLM_F_ACK, result judges the kernel's answer (errno 0 =
// success) and may ask for another attempt, e.g. create -> update.
type batcher[T any] struct {
	encode func(b []byte, seq uint32, v *T, attempt int) []byte
	result func(v *T, attempt int, errno syscall.Errno, r *Result) outcome
	// answer, if set, takes the kernel's answers to v other than errors
	// and ACKs (a GET's entry).
	answer func(v *T, payload []byte)
}

type pending[T any] struct {
	v       T
	attempt int
	errno   syscall.Errno
}

func (bt batcher[T]) run(ctx context.Context, c *Conn, items iter.Seq[T]) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var r Result
	batch := make([]pending[T], 0, c.opts.BatchMessages)
	var retry []pending[T]
	flush := func() error {
		for len(batch) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := writeBatch(c, bt, batch); err != nil {
				return err
			}
			r.Batches++
			retry = retry[:0]
			for i := range batch {
				p := &batch[i]
				switch bt.result(&p.v, p.attempt, p.errno, &r) {
				case outRetry:
					p.attempt++
					p.errno = 0
					retry = append(retry, *p)
				}
			}
			batch = append(batch[:0], retry...)
		}
		return nil
	}
	for v := range items {
		batch = append(batch, pending[T]{v: v})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return r, err
			}
		}
	}
	err := flush()
	return r, err
}

// answerWait bounds the wait for a batch's ACK, which the kernel queues
// before sendmsg returns: only a lost answer can make it wait at all.
const answerWait = 5 * time.Second

// writeBatch sends the batch's requests in sendmsg calls of at most
// BatchBytes, the last request of each asking for an ACK, and records each
// request's errno. Without NLM_F_ACK the kernel answers only failures, so
// the answers are the errors plus one ACK per sendmsg, matched to their
// requests by sequence number.
func writeBatch[T any](c *Conn, bt batcher[T], batch []pending[T]) error {
	for i := 0; i < len(batch); {
		c.tx = c.tx[:0]
		start, base := i, c.seq+1
		last := 0
		for ; i < len(batch); i++ {
			off := len(c.tx)
			c.tx = bt.encode(c.tx, base+uint32(i-start), &batch[i].v, batch[i].attempt)
			if len(c.tx) > c.opts.BatchBytes && i > start {
				c.tx = c.tx[:off]
				break
			}
			last = off
		}
		n := i - start
		lastSeq := base + uint32(n-1)
		c.seq = lastSeq
		flags := nativeEndian.Uint16(c.tx[last+6:])
		nativeEndian.PutUint16(c.tx[last+6:], flags|flagAck)
		if err := c.s.send(c.tx); err != nil {
			return fmt.Errorf("send %d ctnetlink requests: %w", n, err)
		}
		var answer func(seq uint32, payload []byte)
		if bt.answer != nil {
			answer = func(seq uint32, payload []byte) { bt.answer(&batch[start+int(seq-base)].v, payload) }
		}
		if err := c.readAnswers(base, lastSeq, func(seq uint32, errno syscall.Errno) {
			batch[start+int(seq-base)].errno = errno
		}, answer); err != nil {
			return err
		}
	}
	return nil
}

// readAnswers reads NLMSG_ERROR answers until the one for lastSeq,
// handing those in [base, lastSeq] to fn, and any other message in that
// range to answer (if not nil).
func (c *Conn) readAnswers(base, lastSeq uint32, fn func(seq uint32, errno syscall.Errno), answer func(seq uint32, payload []byte)) error {
	_ = c.s.setReadDeadline(time.Now().Add(answerWait))
	defer c.s.setReadDeadline(time.Time{})
	for {
		n, err := c.s.recv(c.rx)
		if err != nil {
			if errors.Is(err, syscall.ENOBUFS) {
				return fmt.Errorf("ctnetlink answers lost (receive buffer of %d octets overrun): %w", c.s.rcvbuf, err)
			}
			return fmt.Errorf("read ctnetlink answers: %w", err)
		}
		b := c.rx[:n]
		for len(b) > 0 {
			h, payload, rest, err := splitMessage(b)
			if err != nil {
				return err
			}
			b = rest
			if h.Seq-base > lastSeq-base {
				continue // stale: a previous batch abandoned on error
			}
			if h.Type != nlmsgError {
				if answer != nil {
					answer(h.Seq, payload)
				}
				continue
			}
			errno, err := parseError(payload)
			if err != nil {
				return err
			}
			fn(h.Seq, errno)
			if h.Seq == lastSeq {
				return nil
			}
		}
	}
}

// Commit writes entries into the kernel table (CS-B11): each is created
// with IPS_CONFIRMED and its NAT binding, or, when it exists (EEXIST),
// updated. It stops early only when ctx ends or the socket fails; the
// kernel's refusals of single entries are counted in the Result.
func (c *Conn) Commit(ctx context.Context, entries iter.Seq[*ct.Entry]) (Result, error) {
	bt := batcher[ct.Entry]{
		encode: func(b []byte, seq uint32, e *ct.Entry, attempt int) []byte {
			mode := ModeCreateExcl
			if attempt == 1 {
				mode = ModeUpdate
			}
			return AppendEntry(b, seq, e, mode, false)
		},
		result: func(e *ct.Entry, attempt int, errno syscall.Errno, r *Result) outcome {
			update := attempt == 1
			switch {
			case errno == 0 && update:
				r.Updated++
				return outDone
			case errno == 0:
				r.Created++
				return outDone
			case !update && errno == syscall.EEXIST:
				return outRetry
			case update && errno == syscall.ENOENT:
				// The create's EEXIST was about the reply tuple: another
				// entry holds it (a NAT binding taken by a different
				// connection), or this one vanished in between.
				r.fail(c.opts.MaxErrors, &KernelError{Op: "create (reply tuple taken)", Key: e.Key(), Errno: syscall.EEXIST})
				return outFailed
			}
			op := "create"
			if update {
				op = "update"
			}
			r.fail(c.opts.MaxErrors, &KernelError{Op: op, Key: e.Key(), Errno: errno})
			return outFailed
		},
	}
	return bt.run(ctx, c, values(entries))
}

// values copies what a sequence of pointers points at: the batch keeps
// the entries until the kernel has answered, the caller may reuse them.
func values[T any](s iter.Seq[*T]) iter.Seq[T] {
	return func(yield func(T) bool) {
		for p := range s {
			if !yield(*p) {
				return
			}
		}
	}
}

// Delete deletes entries by key. Keys the kernel does not have count as
// Absent.
func (c *Conn) Delete(ctx context.Context, keys iter.Seq[ct.Key]) (Result, error) {
	return c.keyed(ctx, keys, "delete", func(b []byte, seq uint32, k *ct.Key) []byte {
		return AppendDelete(b, seq, k, false)
	})
}

// SetTimeout sets the timeout of existing entries to seconds: a node that
// stops being primary shortens the timers of the entries it owned instead
// of flushing them (CS-B13).
func (c *Conn) SetTimeout(ctx context.Context, keys iter.Seq[ct.Key], seconds uint32) (Result, error) {
	return c.keyed(ctx, keys, "timeout", func(b []byte, seq uint32, k *ct.Key) []byte {
		return AppendTimeout(b, seq, k, seconds, false)
	})
}

func (c *Conn) keyed(ctx context.Context, keys iter.Seq[ct.Key], op string, enc func([]byte, uint32, *ct.Key) []byte) (Result, error) {
	return c.keyedBatcher(op, enc).run(ctx, c, keys)
}

// keyedBatcher writes requests naming entries by key: Done counts those
// the kernel did, Absent those it does not have.
func (c *Conn) keyedBatcher(op string, enc func([]byte, uint32, *ct.Key) []byte) batcher[ct.Key] {
	return batcher[ct.Key]{
		encode: func(b []byte, seq uint32, k *ct.Key, _ int) []byte { return enc(b, seq, k) },
		result: func(k *ct.Key, _ int, errno syscall.Errno, r *Result) outcome {
			return c.doneOrAbsent(errno, r, func() error { return &KernelError{Op: op, Key: *k, Errno: errno} })
		},
	}
}

// doneOrAbsent judges the answer to a request naming an entry or an
// expectation: done, absent (ENOENT), or the failure failed describes.
func (c *Conn) doneOrAbsent(errno syscall.Errno, r *Result, failed func() error) outcome {
	switch errno {
	case 0:
		r.Done++
	case syscall.ENOENT:
		r.Absent++
	default:
		r.fail(c.opts.MaxErrors, failed())
		return outFailed
	}
	return outDone
}

// Get reads the entries of keys from the kernel, handing each it has to
// fn (the entry is reused: copy what you keep). Done counts the entries
// found, Absent those the kernel does not have. A dump reads everything;
// Get is for the few entries whose changes the kernel announces by no
// event (a NAT helper's sequence adjustment).
func (c *Conn) Get(ctx context.Context, keys iter.Seq[ct.Key], fn func(*ct.Entry)) (Result, error) {
	var e ct.Entry
	var decodeErr error
	bt := c.keyedBatcher("get", func(b []byte, seq uint32, k *ct.Key) []byte { return AppendGet(b, seq, k, false) })
	bt.answer = func(k *ct.Key, payload []byte) {
		if err := DecodeEntry(payload, &e); err != nil {
			if decodeErr == nil {
				decodeErr = fmt.Errorf("the kernel's answer about %s: %w", fmtTuple(&k.Orig), err)
			}
			return
		}
		fn(&e)
	}
	r, err := bt.run(ctx, c, keys)
	if err == nil {
		err = decodeErr
	}
	return r, err
}

// CommitExpect creates expectations. One that exists already (EEXIST)
// counts as Updated: ctnetlink cannot change an expectation.
func (c *Conn) CommitExpect(ctx context.Context, xs iter.Seq[*ct.Expect]) (Result, error) {
	bt := batcher[ct.Expect]{
		encode: func(b []byte, seq uint32, x *ct.Expect, _ int) []byte {
			return AppendExpect(b, seq, x, false)
		},
		result: func(x *ct.Expect, _ int, errno syscall.Errno, r *Result) outcome {
			switch errno {
			case 0:
				r.Created++
			case syscall.EEXIST:
				r.Updated++
			default:
				r.fail(c.opts.MaxErrors, &KernelError{Op: "create expectation", XKey: x.Key(), Errno: errno})
				return outFailed
			}
			return outDone
		},
	}
	return bt.run(ctx, c, values(xs))
}

// DeleteExpect deletes expectations by key.
func (c *Conn) DeleteExpect(ctx context.Context, keys iter.Seq[ct.ExpectKey]) (Result, error) {
	bt := batcher[ct.ExpectKey]{
		encode: func(b []byte, seq uint32, k *ct.ExpectKey, _ int) []byte {
			return AppendExpectDelete(b, seq, k, false)
		},
		result: func(k *ct.ExpectKey, _ int, errno syscall.Errno, r *Result) outcome {
			return c.doneOrAbsent(errno, r, func() error { return &KernelError{Op: "delete expectation", XKey: *k, Errno: errno} })
		},
	}
	return bt.run(ctx, c, keys)
}

// Dump streams the kernel's conntrack table through fn with one reused
// Entry (fn must copy what it keeps). An error of fn stops the calls; the
// rest of the dump is drained so the socket stays usable.
func (c *Conn) Dump(ctx context.Context, fn func(*ct.Entry) error) error {
	var e ct.Entry
	return c.dump(ctx, subsysCT, func(h Header, payload []byte) error {
		if err := DecodeEntry(payload, &e); err != nil {
			return err
		}
		return fn(&e)
	})
}

// DumpExpect streams the kernel's expectation table through fn.
func (c *Conn) DumpExpect(ctx context.Context, fn func(*ct.Expect) error) error {
	var x ct.Expect
	return c.dump(ctx, subsysExp, func(h Header, payload []byte) error {
		if err := DecodeExpect(payload, &x); err != nil {
			return err
		}
		return fn(&x)
	})
}

func (c *Conn) dump(ctx context.Context, subsys uint8, fn func(Header, []byte) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	seq := c.seq
	c.tx, _ = appendHeader(c.tx[:0], uint16(subsys)<<8|msgGet, flagRequest|flagDump, seq, afUnspec)
	c.tx = finishMessage(c.tx, 0)
	if err := c.s.send(c.tx); err != nil {
		return fmt.Errorf("request ctnetlink dump: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.s.setReadDeadline(time.Now()) })
	defer func() {
		if !stop() {
			_ = c.s.setReadDeadline(time.Time{})
		}
	}()
	var first error
	draining := false
	for {
		n, err := c.s.recv(c.rx)
		if err != nil {
			if ctx.Err() != nil && !draining {
				// The kernel refuses a new dump (EBUSY) while one is
				// unfinished on the socket: read this one to its end.
				draining = true
				first = ctx.Err()
				_ = c.s.setReadDeadline(time.Now().Add(answerWait))
				continue
			}
			return fmt.Errorf("read ctnetlink dump: %w", err)
		}
		b := c.rx[:n]
		for len(b) > 0 {
			h, payload, rest, err := splitMessage(b)
			if err != nil {
				return err
			}
			b = rest
			if h.Seq != seq {
				continue
			}
			switch h.Type {
			case nlmsgDone:
				return first
			case nlmsgError:
				errno, err := parseError(payload)
				if err != nil {
					return err
				}
				if errno != 0 {
					return fmt.Errorf("ctnetlink dump: %w", errno)
				}
				return first
			}
			if first == nil {
				if first = ctx.Err(); first == nil {
					first = fn(h, payload)
				}
			}
		}
	}
}
