package netlab

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestCompareStream(t *testing.T) {
	const size = 100 << 10
	stream := func() []byte {
		b := make([]byte, size)
		_, _ = io.ReadFull(newPattern(7), b)
		return b
	}
	tests := []struct {
		desc   string
		modify func([]byte) []byte
		want   string // substring of the error; empty for a match
	}{
		{desc: "identical", modify: func(b []byte) []byte { return b }},
		{desc: "one byte flipped", modify: func(b []byte) []byte { b[70000] ^= 1; return b }, want: "byte 70000 differs"},
		{desc: "segment lost", modify: func(b []byte) []byte { return append(b[:40000:40000], b[41000:]...) }, want: "byte 40000 differs"},
		{desc: "short", modify: func(b []byte) []byte { return b[:size-1] }, want: "after 102399 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := compareStream(bytes.NewReader(tt.modify(stream())), newPattern(7), size)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("compareStream: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("compareStream = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPatternDiffersBySeed(t *testing.T) {
	a, b := make([]byte, 64), make([]byte, 64)
	_, _ = io.ReadFull(newPattern(1), a)
	_, _ = io.ReadFull(newPattern(2), b)
	if bytes.Equal(a, b) {
		t.Fatal("two seeds gave the same stream")
	}
}

func TestLineLog(t *testing.T) {
	var logged []string
	l := lineLog{
		logf:  func(format string, args ...any) { logged = append(logged, args[1].(string)) },
		label: func() string { return "r1 x[1]" },
	}
	for _, chunk := range []string{"fir", "st\nsecond\nthi", "rd"} {
		_, _ = l.Write([]byte(chunk))
	}
	if got := l.Lines(); strings.Join(got, "|") != "first|second" {
		t.Errorf("Lines = %q before flush, want the two complete lines", got)
	}
	if got := l.String(); got != "first\nsecond\nthird" {
		t.Errorf("String = %q, want the partial line too", got)
	}
	l.flush()
	if got := strings.Join(logged, "|"); got != "first|second|third" {
		t.Errorf("logged %q, want every line once", got)
	}
}
