package config

import (
	"fmt"
	"slices"
	"strings"
)

// Path addresses a node the Vyatta way: one word per step, where a tag node
// is followed by its tag value and a leaf may be followed by one of its
// values. "interfaces ethernet eth0 vrrp vrrp-group 99 priority" walks the
// container interfaces, the tag node ethernet and its instance eth0, the
// container vrrp, the tag node vrrp-group and its instance 99, and ends at
// the leaf priority.
//
// A Path is a plain []string, so a literal []string{"cluster", "group"} works
// wherever a Path is expected.
type Path []string

// ParsePath splits s on white space; double quotes group words that contain
// spaces (`system login user "dave smith"`), with the same escapes as the
// configuration file.
func ParsePath(s string) (Path, error) {
	lx := &lexer{src: []byte(s), pos: Pos{Line: 1, Col: 1}, pathMode: true}
	toks, err := lx.all()
	if err != nil {
		return nil, fmt.Errorf("config: bad path %q: %w", s, err)
	}
	p := make(Path, 0, len(toks)-1)
	for _, t := range toks[:len(toks)-1] {
		p = append(p, t.text)
	}
	return p, nil
}

// MustPath is ParsePath for paths written in code; it panics on bad quoting.
func MustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String joins the words with spaces, quoting those that need it, so
// ParsePath(p.String()) gives p back.
func (p Path) String() string {
	words := make([]string, len(p))
	for i, w := range p {
		words[i] = quote(w)
	}
	return strings.Join(words, " ")
}

// HasPrefix reports whether p starts with the words of prefix.
func (p Path) HasPrefix(prefix Path) bool {
	return len(prefix) <= len(p) && slices.Equal(p[:len(prefix)], prefix)
}

// Child returns a new path with words appended; p itself is not modified.
func (p Path) Child(words ...string) Path {
	out := make(Path, 0, len(p)+len(words))
	return append(append(out, p...), words...)
}
