package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a configuration file. Line and Col count from 1; Col counts
// characters, not bytes. The zero Pos means "no position" (a node built in code).
type Pos struct {
	File string
	Line int
	Col  int
}

// IsValid reports whether p points into a file.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String formats p as "file:line:col", leaving out the parts that are unknown.
func (p Pos) String() string {
	switch {
	case p.IsValid() && p.File != "":
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.IsValid():
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	default:
		return p.File
	}
}

// lineCol is the short "line:col" form used inside messages that already
// name the file.
func (p Pos) lineCol() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Diagnostic is one error or warning about a configuration, tied to the place
// it concerns. It formats as
//
//	vrrpd.conf:12:5: interfaces ethernet eth0 vrrp vrrp-group 99 priority: 300 out of range 1-255
//
// Callers find it in any error this package returns with errors.As.
type Diagnostic struct {
	Pos
	// Path is the node the message is about (empty for file-level problems).
	Path Path
	// Msg says what is wrong and what is allowed.
	Msg string
}

func (d *Diagnostic) Error() string {
	var b strings.Builder
	if s := d.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if len(d.Path) > 0 {
		b.WriteString(d.Path.String())
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// Diagnostics is a list of problems. As an error it prints one per line and
// unwraps to its members, so errors.As finds each *Diagnostic.
type Diagnostics []*Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives errors.Is and errors.As access to every member.
func (ds Diagnostics) Unwrap() []error {
	errs := make([]error, len(ds))
	for i, d := range ds {
		errs[i] = d
	}
	return errs
}

// Err returns ds as an error, or nil when ds is empty (never a typed nil).
func (ds Diagnostics) Err() error {
	if len(ds) == 0 {
		return nil
	}
	return ds
}

// sort orders ds by position, then message, so reports read top to bottom and
// never depend on map or traversal order.
func (ds Diagnostics) sort() {
	slices.SortStableFunc(ds, func(a, b *Diagnostic) int {
		return cmp.Or(
			strings.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			strings.Compare(a.Msg, b.Msg),
		)
	})
}

func diagf(pos Pos, path Path, format string, args ...any) *Diagnostic {
	return &Diagnostic{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)}
}
