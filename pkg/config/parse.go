package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds block nesting, so a hostile file cannot exhaust the stack.
const maxDepth = 200

// Parse reads a configuration without a schema. The layout of the text
// decides the shape of each statement:
//
//	name { ... }          container
//	name value { ... }    tag node instance
//	name value            leaf (repeat it for a multi node)
//	name                  flag, when a line break, '}' or the end follows
//
// Without a schema a bare word cannot tell a flag from a leaf, so in text
// flattened onto one line the words pair up as `name value`: the guide's
// `vrrp-group 99 { preempt true rfc3768-compatibility virtual-address ... }`
// reads rfc3768-compatibility as a leaf. Parse is for canonical files written
// by the printer (one statement per line); daemons parse their own files with
// Schema.Parse, which knows the flags.
//
// Containers and tag instances written twice merge; a leaf written twice
// collects both values. The same name written as two kinds of node is an
// error. Parse stops at the first error and returns it as Diagnostics.
func Parse(file string, src []byte) (*Tree, error) { return parse(file, src, nil) }

// ParseFile reads and parses the file at path without a schema.
func ParseFile(path string) (*Tree, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, src)
}

// Parse reads a configuration guided by the schema: the schema tells flags
// from leaves, so statements may follow each other on one line. Nodes the
// schema does not know, and subtrees it ignores, are read layout-guided as
// by the package-level Parse and reported later by Validate. Deprecated
// aliases are replaced by the real node name.
func (s *Schema) Parse(file string, src []byte) (*Tree, error) { return parse(file, src, s) }

// ParseFile reads and parses the file at path with the schema.
func (s *Schema) ParseFile(path string) (*Tree, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return s.Parse(path, src)
}

func parse(file string, src []byte, s *Schema) (*Tree, error) {
	toks, err := lexFile(file, src)
	if err != nil {
		return nil, asDiagnostics(err)
	}
	t := NewTree(s)
	t.root.pos = Pos{File: file}
	var rootSpec *Spec
	if s != nil {
		rootSpec = s.root
	}
	p := &parser{toks: toks}
	if err := p.body(t.root, rootSpec, nil, nil, 0); err != nil {
		return nil, asDiagnostics(err)
	}
	return t, nil
}

func asDiagnostics(err error) error {
	var d *Diagnostic
	if errors.As(err, &d) {
		return Diagnostics{d}
	}
	return err
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

// body reads statements into `into` until the '}' matching open (or the
// end of the file at the top level, where open is nil). spec is nil in
// layout-guided mode.
func (p *parser) body(into *Node, spec *Spec, path Path, open *token, depth int) error {
	if depth > maxDepth {
		return diagf(open.pos, path, "blocks nested deeper than %d levels", maxDepth)
	}
	for {
		t := p.peek()
		switch t.kind {
		case tokEOF:
			if open != nil {
				return diagf(open.pos, path, "missing '}': the block opened here is never closed")
			}
			return nil
		case tokClose:
			p.i++
			if open == nil {
				return diagf(t.pos, nil, "unexpected '}' (no block is open here)")
			}
			return nil
		case tokOpen:
			return diagf(t.pos, path, "unexpected '{' (a block needs a name before it)")
		case tokString:
			return diagf(t.pos, path, "expected a node name, found the quoted string %s (node names are never quoted)", quote(t.text))
		}
		if err := p.statement(into, spec, path, depth); err != nil {
			return err
		}
	}
}

// statement reads one statement starting with a name.
func (p *parser) statement(into *Node, spec *Spec, path Path, depth int) error {
	key := p.peek()
	p.i++
	if strings.HasSuffix(key.text, ":") {
		return colonError(key, path)
	}
	var child *Spec
	name, alias := key.text, ""
	if spec != nil {
		if c, viaAlias := spec.lookup(key.text); c != nil && c.ignored == "" {
			child = c
			if viaAlias {
				name, alias = c.name, key.text
			}
		}
	}
	if child == nil {
		return p.layoutStatement(into, key, path, depth)
	}
	here := path.Child(name)
	switch child.kind {
	case KindContainer:
		open := p.peek()
		if open.kind != tokOpen {
			return diagf(key.pos, here, "%s is a block: write %s { ... }", name, name)
		}
		p.i++
		n, err := p.add(into, KindContainer, name, key.pos, here, alias)
		if err != nil {
			return err
		}
		return p.body(n, child, here, &open, depth+1)
	case KindTag:
		value, ok := p.sameLineValue()
		if !ok {
			return diagf(key.pos, here, "%s needs a value (%s): write %s VALUE { ... }", name, child.typ, name)
		}
		tag, err := p.add(into, KindTag, name, key.pos, here, alias)
		if err != nil {
			return err
		}
		inst, _ := tag.add(KindInstance, value.text, value.pos)
		if open := p.peek(); open.kind == tokOpen {
			p.i++
			return p.body(inst, child, here.Child(value.text), &open, depth+1)
		}
		return nil
	case KindLeaf:
		value, ok := p.sameLineValue()
		if !ok {
			return diagf(key.pos, here, "%s needs a value on the same line (%s)", name, child.typ)
		}
		if open := p.peek(); open.kind == tokOpen {
			return diagf(open.pos, here, "%s takes a value, not a block", name)
		}
		leaf, err := p.add(into, KindLeaf, name, key.pos, here, alias)
		if err != nil {
			return err
		}
		leaf.addValue(value.text, value.pos)
		return nil
	default: // KindFlag
		switch next := p.peek(); {
		case next.kind == tokOpen:
			return diagf(next.pos, here, "%s is a flag: it takes no block", name)
		case next.kind == tokString && !next.newline:
			return diagf(next.pos, here, "%s is a flag: it takes no value", name)
		}
		_, err := p.add(into, KindFlag, name, key.pos, here, alias)
		return err
	}
}

// layoutStatement reads a statement whose shape the text alone decides.
func (p *parser) layoutStatement(into *Node, key token, path Path, depth int) error {
	here := path.Child(key.text)
	next := p.peek()
	switch {
	case next.kind == tokOpen:
		p.i++
		n, err := p.add(into, KindContainer, key.text, key.pos, here, "")
		if err != nil {
			return err
		}
		return p.body(n, nil, here, &next, depth+1)
	case (next.kind == tokWord || next.kind == tokString) && !next.newline:
		p.i++
		if open := p.peek(); open.kind == tokOpen {
			p.i++
			tag, err := p.add(into, KindTag, key.text, key.pos, here, "")
			if err != nil {
				return err
			}
			inst, _ := tag.add(KindInstance, next.text, next.pos)
			return p.body(inst, nil, here.Child(next.text), &open, depth+1)
		}
		leaf, err := p.add(into, KindLeaf, key.text, key.pos, here, "")
		if err != nil {
			return err
		}
		leaf.addValue(next.text, next.pos)
		return nil
	default:
		_, err := p.add(into, KindFlag, key.text, key.pos, here, "")
		return err
	}
}

// sameLineValue consumes a value written on the same line as its name.
func (p *parser) sameLineValue() (token, bool) {
	t := p.peek()
	if (t.kind == tokWord || t.kind == tokString) && !t.newline {
		p.i++
		return t, true
	}
	return t, false
}

// add finds or creates the child name of into, and reports a name already
// used for another kind of node.
func (p *parser) add(into *Node, kind Kind, name string, pos Pos, path Path, alias string) (*Node, error) {
	n, err := into.add(kind, name, pos)
	if err != nil {
		return nil, diagf(pos, path, "written as %s here but as %s at %s", kindWithSyntax(kind), kindWithSyntax(n.kind), n.pos.lineCol())
	}
	if alias != "" && n.writtenAs == "" {
		n.writtenAs = alias
	}
	return n, nil
}

// colonError explains the `name: value` typo (the guide prints
// `pre-shared-secret: "!secret!"`): node names never end in a colon.
func colonError(key token, path Path) error {
	name := strings.TrimSuffix(key.text, ":")
	pos := key.pos
	pos.Col += utf8.RuneCountInString(name)
	if name == "" {
		return diagf(pos, path, "unexpected ':' (write NAME VALUE)")
	}
	return diagf(pos, path, "unexpected ':' after %s (write `%s VALUE`)", name, name)
}
