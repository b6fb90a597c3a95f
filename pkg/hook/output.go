package hook

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
)

const (
	// maxLineBytes cuts overlong lines, so a script printing megabytes
	// without a newline costs no more memory than one that prints lines.
	maxLineBytes = 4096
	// tailLines is how many of the last output lines a Result keeps.
	tailLines = 20
)

// outputLog turns a script's output into log lines, within a byte budget,
// and remembers the last few lines.
type outputLog struct {
	log          *slog.Logger
	budget       int // bytes that may still be logged
	droppedLines int
	droppedBytes int64
	last         []string
}

func newOutputLog(log *slog.Logger, maxBytes int) *outputLog {
	return &outputLog{log: log, budget: maxBytes}
}

// read consumes r until EOF or a read error (the pipe closed under it).
func (o *outputLog) read(r io.Reader) {
	br := bufio.NewReaderSize(r, maxLineBytes)
	for {
		chunk, err := br.ReadSlice('\n')
		line := strings.TrimRight(string(chunk), "\r\n")
		var cutBytes int64
		if errors.Is(err, bufio.ErrBufferFull) {
			cutBytes, err = skipRestOfLine(br)
		}
		if len(chunk) > 0 {
			o.add(line, cutBytes)
		}
		if err != nil {
			break
		}
	}
	if o.droppedLines > 0 {
		o.log.Warn("script output truncated: too much to log",
			"dropped_lines", o.droppedLines, "dropped_bytes", o.droppedBytes)
	}
}

// skipRestOfLine discards input up to and including the next newline and
// returns how many bytes of the line it discarded, the newline excluded.
func skipRestOfLine(br *bufio.Reader) (int64, error) {
	var skipped int64
	for {
		chunk, err := br.ReadSlice('\n')
		skipped += int64(len(bytes.TrimRight(chunk, "\r\n")))
		if !errors.Is(err, bufio.ErrBufferFull) {
			return skipped, err
		}
	}
}

func (o *outputLog) add(line string, cutBytes int64) {
	if len(o.last) == tailLines {
		copy(o.last, o.last[1:])
		o.last = o.last[:tailLines-1]
	}
	o.last = append(o.last, line)

	// Once one line is over budget every later one is dropped too, so the
	// log never shows output with holes in it.
	if o.droppedLines > 0 || len(line) > o.budget {
		o.droppedLines++
		o.droppedBytes += int64(len(line)) + cutBytes
		return
	}
	o.budget -= len(line)
	if cutBytes > 0 {
		o.log.Info("script output", "line", line, "cut_bytes", cutBytes)
		return
	}
	o.log.Info("script output", "line", line)
}

func (o *outputLog) tail() []string { return o.last }

func (o *outputLog) truncated() bool { return o.droppedLines > 0 }
