package config

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokWord             // a bare word: node name or unquoted value
	tokString           // a "quoted string", text already unescaped
	tokOpen             // {
	tokClose            // }
)

type token struct {
	kind tokenKind
	text string
	pos  Pos
	// newline records that a line break (or a comment spanning lines)
	// separates this token from the previous one. Without a schema a
	// line break ends a statement, so `key` alone on a line is a flag.
	newline bool
}

// lexer splits a configuration file into tokens. Comments (`/* ... */` and
// `#` to the end of the line) are recognised only where a token could start,
// so values such as `foo#1` or `a/*b` stay whole; the printer quotes values
// that would otherwise start a comment.
type lexer struct {
	src      []byte
	off      int
	pos      Pos
	pathMode bool // ParsePath: no comments, no braces
	sawNL    bool
}

const bom = "\uFEFF"

func lexFile(file string, src []byte) ([]token, error) {
	lx := &lexer{src: src, pos: Pos{File: file, Line: 1, Col: 1}}
	if bytes.HasPrefix(src, []byte(bom)) {
		lx.off = len(bom)
	}
	return lx.all()
}

func (lx *lexer) all() ([]token, error) {
	// Configuration text averages well over 8 bytes per token.
	toks := make([]token, 0, len(lx.src)/8+1)
	for {
		t, err := lx.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tokEOF {
			return toks, nil
		}
	}
}

func (lx *lexer) peekRune() (rune, int) {
	if lx.off >= len(lx.src) {
		return -1, 0
	}
	return utf8.DecodeRune(lx.src[lx.off:])
}

// advance consumes one rune of n bytes and keeps the position up to date.
func (lx *lexer) advance(r rune, n int) {
	lx.off += n
	if r == '\n' {
		lx.pos.Line++
		lx.pos.Col = 1
		lx.sawNL = true
		return
	}
	lx.pos.Col++
}

func (lx *lexer) hasPrefix(s string) bool {
	rest := lx.src[lx.off:]
	return len(rest) >= len(s) && string(rest[:len(s)]) == s
}

func (lx *lexer) next() (token, error) {
	if err := lx.skipSpaceAndComments(); err != nil {
		return token{}, err
	}
	t := token{pos: lx.pos, newline: lx.sawNL}
	lx.sawNL = false
	r, n := lx.peekRune()
	switch {
	case r < 0:
		t.kind = tokEOF
		return t, nil
	case r == '{' || r == '}':
		if lx.pathMode {
			return token{}, diagf(lx.pos, nil, "unexpected %q in a path (quote values that contain braces)", r)
		}
		lx.advance(r, n)
		t.kind = tokOpen
		if r == '}' {
			t.kind = tokClose
		}
		return t, nil
	case r == '"':
		text, err := lx.quoted()
		t.kind, t.text = tokString, text
		return t, err
	case !isWordRune(r):
		return token{}, diagf(lx.pos, nil, "invalid character %U (quote values that contain control characters)", r)
	}
	start := lx.off
	for {
		r, n := lx.peekRune()
		if r == '"' {
			return token{}, diagf(lx.pos, nil, "unexpected '\"' inside the word %s (quote the whole value)", lx.src[start:lx.off])
		}
		if r < 0 || !isWordRune(r) {
			break
		}
		lx.advance(r, n)
	}
	t.kind, t.text = tokWord, string(lx.src[start:lx.off])
	return t, nil
}

func (lx *lexer) skipSpaceAndComments() error {
	for {
		r, n := lx.peekRune()
		switch {
		case r >= 0 && isSpace(r):
			lx.advance(r, n)
		case lx.pathMode:
			return nil
		case r == '#':
			for r, n := lx.peekRune(); r >= 0 && r != '\n'; r, n = lx.peekRune() {
				lx.advance(r, n)
			}
		case lx.hasPrefix("/*"):
			start := lx.pos
			lx.advance('/', 1)
			lx.advance('*', 1)
			for !lx.hasPrefix("*/") {
				r, n := lx.peekRune()
				if r < 0 {
					return diagf(start, nil, "unterminated comment (add */ to close the comment opened here)")
				}
				lx.advance(r, n)
			}
			lx.advance('*', 1)
			lx.advance('/', 1)
		default:
			return nil
		}
	}
}

// quoted reads a double-quoted string. It may span lines; the escapes are
// \" \\ \n and \t, and any other backslash sequence is an error rather than a
// silent guess.
func (lx *lexer) quoted() (string, error) {
	start := lx.pos
	lx.advance('"', 1)
	var b strings.Builder
	for {
		if lx.off >= len(lx.src) {
			return "", diagf(start, nil, "unterminated string (add a closing '\"' to the string opened here)")
		}
		c := lx.src[lx.off]
		switch c {
		case '"':
			lx.advance('"', 1)
			return b.String(), nil
		case '\\':
			escPos := lx.pos
			lx.advance('\\', 1)
			r, n := lx.peekRune()
			switch r {
			case '"', '\\':
				b.WriteRune(r)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case -1:
				return "", diagf(start, nil, "unterminated string (add a closing '\"' to the string opened here)")
			default:
				return "", diagf(escPos, nil, "unknown escape \\%c in string (write \\\\ for a backslash; known escapes: \\\" \\\\ \\n \\t)", r)
			}
			lx.advance(r, n)
		default:
			// Copy raw bytes, so that invalid UTF-8 survives a round trip.
			r, n := lx.peekRune()
			b.Write(lx.src[lx.off : lx.off+n])
			lx.advance(r, n)
		}
	}
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// isWordRune reports whether r may appear in a bare (unquoted) word. The
// printer uses the same test to decide when a value needs quotes, which is
// what makes printing and parsing inverse to each other.
func isWordRune(r rune) bool {
	switch {
	case r == '{', r == '}', r == '"', r == '\uFEFF':
		return false
	case unicode.IsSpace(r), unicode.IsControl(r):
		return false
	}
	return true
}

// needsQuotes reports whether s must be quoted to be read back as one word.
func needsQuotes(s string) bool {
	if s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, "/*") {
		return true
	}
	for _, r := range s {
		if !isWordRune(r) {
			return true
		}
	}
	return false
}

// quote returns s as the printer writes it: bare when that reads back the
// same, otherwise in double quotes with \" \\ \n \t escaped. Other bytes are
// copied unchanged, including invalid UTF-8.
func quote(s string) string {
	if !needsQuotes(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
