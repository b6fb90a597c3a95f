package config

import (
	"bytes"
	"io"
	"strings"
)

// indent is the printer's indentation step, the one the guide's complete
// examples (1-8, 6-2) use.
const indent = "    "

// Format returns the canonical text of the tree: one statement per line,
// indented by four spaces per level, children in canonical order (names and
// tag values sorted naturally, leaf values in the order written), values
// quoted only when they need it, and an empty block printed as
// `name value {` followed by `}` on the next line. Parsing the output gives
// an equal tree and formatting that tree gives the same text again.
func (t *Tree) Format() []byte {
	var b bytes.Buffer
	for _, c := range t.root.children {
		c.writeStatement(&b, 0)
	}
	return b.Bytes()
}

// String returns Format as a string.
func (t *Tree) String() string { return string(t.Format()) }

// WriteTo writes Format to w.
func (t *Tree) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(t.Format())
	return int64(n), err
}

// String returns the canonical text of the statement(s) defining n, at
// indentation zero: `priority 150`, `vrrp-group 99 { ... }` and so on. For a
// tag node that is one block per instance; for a tag instance, the block
// with its tag value (the name of the tag node is not known to the instance,
// so the value stands in its place). The root prints as the whole file.
func (n *Node) String() string {
	var b bytes.Buffer
	if n.kind == KindContainer && n.name == "" {
		for _, c := range n.children {
			c.writeStatement(&b, 0)
		}
		return b.String()
	}
	n.writeStatement(&b, 0)
	return b.String()
}

func (n *Node) writeStatement(b *bytes.Buffer, depth int) {
	pad := strings.Repeat(indent, depth)
	switch n.kind {
	case KindContainer:
		n.writeBlock(b, pad, n.name, depth)
	case KindTag:
		for _, inst := range n.children {
			inst.writeBlock(b, pad, n.name+" "+quote(inst.name), depth)
		}
	case KindInstance:
		n.writeBlock(b, pad, quote(n.name), depth)
	case KindLeaf:
		for _, v := range n.values {
			b.WriteString(pad + n.name + " " + quote(v) + "\n")
		}
	case KindFlag:
		b.WriteString(pad + n.name + "\n")
	}
}

func (n *Node) writeBlock(b *bytes.Buffer, pad, head string, depth int) {
	b.WriteString(pad + head + " {\n")
	for _, c := range n.children {
		c.writeStatement(b, depth+1)
	}
	b.WriteString(pad + "}\n")
}

// SetStyle renders the tree as one line per leaf value or flag, each the
// full path of words that `set` would take, for example
//
//	interfaces ethernet eth0 vrrp vrrp-group 99 priority 150
//
// Containers and tag instances with nothing inside get a line of their own
// so that no part of the tree is lost. Lines come in canonical order.
func (t *Tree) SetStyle() []string { return t.root.setStyle(nil, nil) }

// SetStyle renders the subtree at n the same way. A node does not know
// where it sits, so path must be the path n was found at; every line starts
// with it.
func (n *Node) SetStyle(path Path) []string { return n.setStyle(nil, path) }

func (n *Node) setStyle(lines []string, path Path) []string {
	switch {
	case n.kind == KindLeaf:
		for _, v := range n.values {
			lines = append(lines, path.Child(v).String())
		}
	case n.kind == KindFlag, len(n.children) == 0 && len(path) > 0:
		lines = append(lines, path.String())
	default:
		for _, c := range n.children {
			lines = c.setStyle(lines, path.Child(c.name))
		}
	}
	return lines
}
