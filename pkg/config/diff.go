package config

import (
	"fmt"
	"slices"
	"strings"
)

// ChangeKind says how a node differs between two trees.
type ChangeKind uint8

const (
	// Added: the node exists only in the new tree.
	Added ChangeKind = iota + 1
	// Removed: the node exists only in the old tree.
	Removed
	// Changed: a leaf exists in both trees with different values.
	Changed
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Changed:
		return "changed"
	}
	return fmt.Sprintf("ChangeKind(%d)", uint8(k))
}

// Change is one difference between two trees, at the granularity of
// SetStyle: a leaf (with all its values), a flag, or a container or tag
// instance that has nothing inside. A subtree that exists on one side only
// shows up as one change per leaf inside it.
type Change struct {
	Kind ChangeKind
	// Path is the node's full path (for a leaf, without its values).
	Path Path
	// Old and New are a leaf's values before and after (nil for the side
	// where it does not exist, and for flags and empty blocks).
	Old, New []string
}

// String formats the change as one line: `+ path value`, `- path value`
// or `~ path old -> new`; several values of a multi leaf are shown in
// brackets.
func (c Change) String() string {
	switch c.Kind {
	case Added:
		return "+ " + withValues(c.Path, c.New)
	case Removed:
		return "- " + withValues(c.Path, c.Old)
	default:
		return fmt.Sprintf("~ %s %s -> %s", c.Path, valueList(c.Old), valueList(c.New))
	}
}

func withValues(p Path, values []string) string {
	if len(values) == 0 {
		return p.String()
	}
	return p.String() + " " + valueList(values)
}

func valueList(values []string) string {
	if len(values) == 1 {
		return quote(values[0])
	}
	return "[" + Path(values).String() + "]"
}

// Changes is the result of Diff, in canonical tree order (deterministic).
type Changes []Change

// Diff lists what differs from old to new. Either tree may be nil (empty).
// Daemons use it on reload to touch only what changed; use Under or Touches
// to ask about one subtree.
func Diff(old, new *Tree) Changes {
	var changes Changes
	diffChildren(&changes, nil, rootOf(old), rootOf(new))
	return changes
}

func rootOf(t *Tree) *Node {
	if t == nil {
		return &Node{kind: KindContainer}
	}
	return t.root
}

// diffChildren merges the sorted child lists of a and b.
func diffChildren(out *Changes, path Path, a, b *Node) {
	i, j := 0, 0
	for i < len(a.children) || j < len(b.children) {
		var c int
		switch {
		case i == len(a.children):
			c = 1
		case j == len(b.children):
			c = -1
		default:
			c = compareNatural(a.children[i].name, b.children[j].name)
		}
		switch {
		case c < 0:
			emitAll(out, Removed, path.Child(a.children[i].name), a.children[i])
			i++
		case c > 0:
			emitAll(out, Added, path.Child(b.children[j].name), b.children[j])
			j++
		default:
			diffNode(out, path.Child(a.children[i].name), a.children[i], b.children[j])
			i++
			j++
		}
	}
}

func diffNode(out *Changes, path Path, a, b *Node) {
	switch {
	case a.kind != b.kind:
		emitAll(out, Removed, path, a)
		emitAll(out, Added, path, b)
	case a.kind == KindLeaf:
		if !slices.Equal(a.values, b.values) {
			*out = append(*out, Change{Kind: Changed, Path: path, Old: a.Values(), New: b.Values()})
		}
	case a.kind == KindFlag:
	case len(a.children) == 0 || len(b.children) == 0:
		// An empty block and a filled one: report the leaves (or the empty
		// block) on each side rather than a meaningless "changed".
		if len(a.children) != len(b.children) {
			emitAll(out, Removed, path, a)
			emitAll(out, Added, path, b)
		}
	default:
		diffChildren(out, path, a, b)
	}
}

// emitAll reports every leaf, flag and empty block of the subtree n at path.
func emitAll(out *Changes, kind ChangeKind, path Path, n *Node) {
	switch {
	case n.kind == KindLeaf:
		c := Change{Kind: kind, Path: path}
		if kind == Added {
			c.New = n.Values()
		} else {
			c.Old = n.Values()
		}
		*out = append(*out, c)
	case n.kind == KindFlag, len(n.children) == 0:
		*out = append(*out, Change{Kind: kind, Path: path})
	default:
		for _, c := range n.children {
			emitAll(out, kind, path.Child(c.name), c)
		}
	}
}

// Under returns the changes at p or below it, in order.
func (cs Changes) Under(p Path) Changes {
	var out Changes
	for _, c := range cs {
		if c.Path.HasPrefix(p) {
			out = append(out, c)
		}
	}
	return out
}

// Touches reports whether anything at p or below it changed, for example
// whether a reload must restart one VRRP group:
//
//	changes.Touches(config.Path{"interfaces", "ethernet", "eth0", "vrrp", "vrrp-group", "99"})
func (cs Changes) Touches(p Path) bool {
	return slices.ContainsFunc(cs, func(c Change) bool { return c.Path.HasPrefix(p) })
}

// String prints one change per line.
func (cs Changes) String() string {
	lines := make([]string, len(cs))
	for i, c := range cs {
		lines[i] = c.String()
	}
	return strings.Join(lines, "\n")
}
