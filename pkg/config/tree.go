package config

import (
	"errors"
	"fmt"
	"slices"
)

// Kind is the shape of a node, in the file and in a schema.
type Kind uint8

const (
	// KindContainer is `name { ... }`.
	KindContainer Kind = iota + 1
	// KindTag is the tag node of `name value { ... }`: its children are
	// the instances, one per tag value.
	KindTag
	// KindInstance is one instance of a tag node; its name is the tag value
	// and its children are the body.
	KindInstance
	// KindLeaf is `name value`; a leaf written several times holds the
	// values in the order written (a multi node).
	KindLeaf
	// KindFlag is a valueless `name`.
	KindFlag
)

func (k Kind) String() string {
	switch k {
	case KindContainer:
		return "container"
	case KindTag:
		return "tag node"
	case KindInstance:
		return "tag instance"
	case KindLeaf:
		return "leaf"
	case KindFlag:
		return "flag"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Errors returned by the editing methods, to test with errors.Is.
var (
	// ErrNotFound means the path does not lead to an existing node.
	ErrNotFound = errors.New("no such node")
	// ErrConflict means the path exists with another kind of node
	// (for example a leaf where a container is needed).
	ErrConflict = errors.New("node exists with another kind")
	// ErrNoSchema means an edit had to create a node whose kind only a
	// schema knows.
	ErrNoSchema = errors.New("the tree has no schema to tell the kinds of new nodes")
)

// Node is one node of a configuration tree. Children are kept in canonical
// order: names sorted naturally (digit runs compare as numbers), tag
// instances by their tag value the same way. The values of a leaf keep the
// order in which they were written, because for some nodes (cluster
// services) the order means something.
type Node struct {
	kind     Kind
	name     string
	values   []string
	valuePos []Pos
	children []*Node
	pos      Pos
	// writtenAs is the deprecated alias a schema-guided parse replaced by
	// the node's real name; validation warns about it.
	writtenAs string
}

// Kind returns the shape of the node.
func (n *Node) Kind() Kind { return n.kind }

// Name returns the node's name; for a tag instance, its tag value.
func (n *Node) Name() string { return n.name }

// Pos returns where the node was written (the zero Pos for built nodes).
// For a tag instance it is the position of the tag value.
func (n *Node) Pos() Pos { return n.pos }

// Values returns a copy of a leaf's values, in the order written.
func (n *Node) Values() []string { return slices.Clone(n.values) }

// Value returns a leaf's first value, or "" for other nodes.
func (n *Node) Value() string {
	if len(n.values) == 0 {
		return ""
	}
	return n.values[0]
}

// ValuePos returns where the i-th value of a leaf was written.
func (n *Node) ValuePos(i int) Pos {
	if i < 0 || i >= len(n.valuePos) {
		return n.pos
	}
	return n.valuePos[i]
}

// Children returns a copy of the children in canonical order: the children
// of a container or instance, or the instances of a tag node.
func (n *Node) Children() []*Node { return slices.Clone(n.children) }

// Child returns the child (or, for a tag node, the instance) called name.
func (n *Node) Child(name string) *Node {
	if i, ok := n.find(name); ok {
		return n.children[i]
	}
	return nil
}

func (n *Node) find(name string) (int, bool) {
	return slices.BinarySearchFunc(n.children, name, func(c *Node, name string) int {
		return compareNatural(c.name, name)
	})
}

// add returns the child called name, creating it with kind if missing. An
// existing child of another kind is a conflict.
func (n *Node) add(kind Kind, name string, pos Pos) (*Node, error) {
	i, ok := n.find(name)
	if ok {
		c := n.children[i]
		if c.kind != kind {
			return c, ErrConflict
		}
		return c, nil
	}
	c := &Node{kind: kind, name: name, pos: pos}
	n.children = slices.Insert(n.children, i, c)
	return c, nil
}

// remove deletes the child called name, if any.
func (n *Node) remove(name string) {
	if i, ok := n.find(name); ok {
		n.children = slices.Delete(n.children, i, i+1)
	}
}

// addValue appends value, written at pos, to a leaf.
func (n *Node) addValue(value string, pos Pos) {
	n.values = append(n.values, value)
	n.valuePos = append(n.valuePos, pos)
}

// hasValue reports whether a leaf holds value.
func (n *Node) hasValue(value string) bool { return slices.Contains(n.values, value) }

// Get returns the node at p below n, or nil. A path ending in one of a
// leaf's values returns that leaf; an empty path returns n.
func (n *Node) Get(p Path) *Node {
	chain, _ := n.resolve(p)
	if chain == nil {
		return nil
	}
	return chain[len(chain)-1]
}

// List returns the names of the children at p (for a tag node, its tag
// values; for a leaf, its values), in canonical order. It returns nil when
// p does not exist.
func (n *Node) List(p Path) []string {
	target := n.Get(p)
	if target == nil {
		return nil
	}
	if target.kind == KindLeaf {
		return target.Values()
	}
	names := make([]string, len(target.children))
	for i, c := range target.children {
		names[i] = c.name
	}
	return names
}

// Clone returns a deep copy of n.
func (n *Node) Clone() *Node {
	c := *n
	c.values = slices.Clone(n.values)
	c.valuePos = slices.Clone(n.valuePos)
	c.children = make([]*Node, len(n.children))
	for i, child := range n.children {
		c.children[i] = child.Clone()
	}
	return &c
}

// Equal reports whether n and o hold the same configuration: same kinds,
// names, values (in order) and children. Positions and the spelling a node
// was written with do not count.
func (n *Node) Equal(o *Node) bool {
	if n == nil || o == nil {
		return n == o
	}
	if n.kind != o.kind || n.name != o.name || !slices.Equal(n.values, o.values) || len(n.children) != len(o.children) {
		return false
	}
	for i := range n.children {
		if !n.children[i].Equal(o.children[i]) {
			return false
		}
	}
	return true
}

// Tree is a parsed configuration file: a root node holding the top-level
// statements and, when it was parsed with one, the schema that describes it.
type Tree struct {
	root   *Node
	schema *Schema
}

// NewTree returns an empty tree. With a schema, Set can create nodes.
func NewTree(s *Schema) *Tree {
	return &Tree{root: &Node{kind: KindContainer}, schema: s}
}

// Root returns the node holding the top-level statements.
func (t *Tree) Root() *Node { return t.root }

// Schema returns the schema the tree was parsed with, or nil.
func (t *Tree) Schema() *Schema { return t.schema }

// Get returns the node at p, or nil (see Node.Get).
func (t *Tree) Get(p Path) *Node { return t.root.Get(p) }

// List returns the children names, tag values or leaf values at p.
func (t *Tree) List(p Path) []string { return t.root.List(p) }

// Clone returns a deep copy sharing the (immutable) schema.
func (t *Tree) Clone() *Tree { return &Tree{root: t.root.Clone(), schema: t.schema} }

// Equal reports whether both trees hold the same configuration.
func (t *Tree) Equal(o *Tree) bool { return t.root.Equal(o.root) }

// Set creates or updates the node at p the way Vyatta's `set` does: the last
// word of a path to a leaf is the value ("... vrrp-group 99 priority 150"),
// a single-valued leaf gets its value replaced, a multi leaf gets the value
// appended once, and missing containers and tag instances on the way are
// created. The tree's schema gives the kind of every word and checks the
// value; without a schema Set returns ErrNoSchema.
func (t *Tree) Set(p Path) error {
	if t.schema == nil {
		return fmt.Errorf("config: set %s: %w; parse with Schema.Parse or start from NewTree(schema)", p, ErrNoSchema)
	}
	cur, spec := t.root, t.schema.root
	for i := 0; i < len(p); i++ {
		at := p[:i+1]
		child, _ := spec.lookup(p[i])
		if child == nil || child.ignored != "" {
			return fmt.Errorf("config: set %s: %w", p, unknownNode(spec, p[i], Pos{}, at))
		}
		needsValue := child.kind == KindTag || child.kind == KindLeaf
		if needsValue && i+1 >= len(p) {
			return fmt.Errorf("config: set %s: %s needs a value (%s)", p, child.name, child.typ)
		}
		if needsValue {
			if err := child.typ.Check(p[i+1]); err != nil {
				return fmt.Errorf("config: set %s: %w", p, err)
			}
		}
		if child.kind == KindFlag && i+1 != len(p) {
			return fmt.Errorf("config: set %s: %s is a flag and takes no value", p, child.name)
		}
		if child.kind == KindLeaf && i+2 != len(p) {
			return fmt.Errorf("config: set %s: %s takes one value (quote values that contain spaces)", p, child.name)
		}
		kind := child.kind
		n, err := cur.add(kind, child.name, Pos{})
		if err != nil {
			return fmt.Errorf("config: set %s: %s is a %s, not a %s: %w", p, at, n.kind, kind, err)
		}
		switch kind {
		case KindTag:
			i++
			n, _ = n.add(KindInstance, p[i], Pos{})
		case KindLeaf:
			value := p[i+1]
			if !child.multi {
				n.values, n.valuePos = nil, nil
			}
			if !n.hasValue(value) {
				n.addValue(value, Pos{})
			}
			return nil
		}
		cur, spec = n, child
	}
	return nil
}

// Delete removes the node at p with everything below it. A path ending in
// one of a leaf's values removes only that value; removing the last value of
// a leaf or the last instance of a tag node removes that node too.
func (t *Tree) Delete(p Path) error {
	if len(p) == 0 {
		return fmt.Errorf("config: delete: empty path")
	}
	chain, valueWord := t.root.resolve(p)
	if chain == nil {
		return fmt.Errorf("config: delete %s: %w", p, ErrNotFound)
	}
	target := chain[len(chain)-1]
	if valueWord != "" {
		i := slices.Index(target.values, valueWord)
		target.values = slices.Delete(target.values, i, i+1)
		target.valuePos = slices.Delete(target.valuePos, i, i+1)
		if len(target.values) > 0 {
			return nil
		}
	}
	// Unlink target, then every tag node left without instances.
	for i := len(chain) - 1; i >= 1; i-- {
		parent := chain[i-1]
		parent.remove(chain[i].name)
		if parent.kind != KindTag || len(parent.children) > 0 {
			break
		}
	}
	return nil
}

// resolve returns the nodes p walks through, starting with n itself, and
// the trailing leaf value if p ends in one; nil when p does not exist.
func (n *Node) resolve(p Path) (chain []*Node, value string) {
	chain = []*Node{n}
	cur := n
	for i, w := range p {
		if cur.kind == KindLeaf {
			if i == len(p)-1 && cur.hasValue(w) {
				return chain, w
			}
			return nil, ""
		}
		cur = cur.Child(w)
		if cur == nil {
			return nil, ""
		}
		chain = append(chain, cur)
	}
	return chain, ""
}

// Replace makes the subtree at p equal to the one at p in from: it is
// copied (with the containers and tag nodes leading to it, whose kinds come
// from from), or deleted when from has nothing there. This is how a
// configuration-sync standby takes over part of a master's tree; no schema
// is needed.
func (t *Tree) Replace(p Path, from *Tree) error {
	if len(p) == 0 {
		return fmt.Errorf("config: replace: empty path (copy the whole tree with Clone)")
	}
	chain, value := from.root.resolve(p)
	if value != "" {
		return fmt.Errorf("config: replace %s: the path ends in a leaf value; give the path of the leaf", p)
	}
	if chain == nil {
		if err := t.Delete(p); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	}
	cur := t.root
	for _, src := range chain[1 : len(chain)-1] {
		n, err := cur.add(src.kind, src.name, src.pos)
		if err != nil {
			return fmt.Errorf("config: replace %s: %s is a %s here but a %s in the source: %w", p, src.name, n.kind, src.kind, err)
		}
		cur = n
	}
	last := chain[len(chain)-1]
	cur.remove(last.name)
	i, _ := cur.find(last.name)
	cur.children = slices.Insert(cur.children, i, last.Clone())
	return nil
}

// kindName names a kind of node in messages.
func kindName(k Kind) string {
	switch k {
	case KindContainer:
		return "a block"
	case KindTag, KindInstance:
		return "a tag node"
	case KindLeaf:
		return "a leaf"
	}
	return "a flag"
}

// kindWithSyntax also shows how such a node is written, for messages about
// one name written two ways.
func kindWithSyntax(k Kind) string {
	switch k {
	case KindContainer:
		return "a block (name { ... })"
	case KindTag, KindInstance:
		return "a tag node (name value { ... })"
	case KindLeaf:
		return "a leaf (name value)"
	}
	return "a flag (name alone)"
}
