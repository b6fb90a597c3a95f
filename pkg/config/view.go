package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// View is the typed, schema-aware reading of one node of a validated
// configuration. It also stands for nodes that are absent, so that
// defaults apply: v.Child("authentication").String("type") is "" when there
// is no authentication block, and g.Int("priority") is the schema default
// when priority is not written.
//
// The accessors take the name of a child declared in the schema. Asking for
// an undeclared name, or with the wrong accessor for its type (Duration of
// an integer leaf), is a programming error and panics; values themselves
// never make them fail, because a View only exists for a validated tree.
type View struct {
	node *Node // nil when the node is absent
	spec *Spec
	path Path
	pos  Pos // the node's, or its nearest present ancestor's
}

// Exists reports whether the node is written in the file.
func (v View) Exists() bool { return v.node != nil }

// Node returns the underlying node, or nil if absent.
func (v View) Node() *Node { return v.node }

// Path returns the node's path.
func (v View) Path() Path { return v.path }

// Pos returns where the node (or its nearest present ancestor) was written.
func (v View) Pos() Pos { return v.pos }

// Tag returns the tag value of a tag instance ("99" for vrrp-group 99).
func (v View) Tag() string {
	if v.node != nil && v.node.kind == KindInstance {
		return v.node.name
	}
	return ""
}

// Child returns the view of the child called name (a container, leaf,
// flag or tag node).
func (v View) Child(name string) View {
	cs, _ := v.spec.lookup(name)
	if cs == nil || cs.ignored != "" {
		panic(fmt.Sprintf("config: %s has no child %q in its schema", v.describe(), name))
	}
	c := View{spec: cs, path: v.path.Child(cs.name), pos: v.pos}
	if n := childOf(v.node, cs); n != nil {
		c.node, c.pos = n, n.pos
	}
	return c
}

func (v View) describe() string {
	if len(v.path) == 0 {
		return "the schema root"
	}
	return v.path.String()
}

// Instances returns the instances of the tag node name, in canonical order
// (rule 5 before rule 10).
func (v View) Instances(name string) []View {
	tag := v.Child(name)
	if tag.spec.kind != KindTag {
		panic(fmt.Sprintf("config: %s is a %s, not a tag node", tag.describe(), tag.spec.kind))
	}
	if tag.node == nil {
		return nil
	}
	views := make([]View, len(tag.node.children))
	for i, inst := range tag.node.children {
		views[i] = View{node: inst, spec: tag.spec, path: tag.path.Child(inst.name), pos: inst.pos}
	}
	return views
}

// Has reports whether the child name is written (a flag is set, a leaf or
// block is present). Defaults do not count.
func (v View) Has(name string) bool { return v.Child(name).node != nil }

// values returns the values of the leaf name, or its default, or nil.
func (v View) values(name string) ([]string, *Spec) {
	c := v.Child(name)
	if c.spec.kind != KindLeaf {
		panic(fmt.Sprintf("config: %s is a %s, not a leaf", c.describe(), c.spec.kind))
	}
	switch {
	case c.node != nil:
		return c.node.values, c.spec
	case c.spec.hasDef:
		return []string{c.spec.def}, c.spec
	}
	return nil, c.spec
}

// String returns the value of the leaf name, its default, or "".
func (v View) String(name string) string {
	values, _ := v.values(name)
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// Strings returns the values of a multi leaf in the order written, each
// once (duplicates are dropped, as validation warned).
func (v View) Strings(name string) []string {
	values, _ := v.values(name)
	var out []string
	for _, s := range values {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Int returns the integer value of the leaf name, its default, or 0.
func (v View) Int(name string) int64 {
	s := v.String(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(v.misuse("Int", name, err))
	}
	return n
}

// Bool returns whether the leaf name (or its default) is `true`.
func (v View) Bool(name string) bool { return v.String(name) == "true" }

// Duration returns the value of a Duration leaf, its default, or 0.
func (v View) Duration(name string) time.Duration {
	s, spec := v.values(name)
	t, ok := spec.typ.(durationType)
	if !ok {
		panic(v.misuse("Duration", name, fmt.Errorf("its type is %s", spec.typ)))
	}
	if len(s) == 0 {
		return 0
	}
	d, err := t.parse(s[0])
	if err != nil {
		panic(v.misuse("Duration", name, err))
	}
	return d
}

// Addr returns the IP address value of the leaf name, or the zero Addr.
func (v View) Addr(name string) netip.Addr {
	if s := v.String(name); s != "" {
		return mustAddr(v, name, s)
	}
	return netip.Addr{}
}

// Addrs returns the IP address values of a multi leaf, each once.
func (v View) Addrs(name string) []netip.Addr {
	var out []netip.Addr
	for _, s := range v.Strings(name) {
		out = append(out, mustAddr(v, name, s))
	}
	return out
}

// Prefix returns the value of an address-with-optional-length leaf as a
// prefix (an address alone is a /32), host bits kept, or the zero Prefix.
func (v View) Prefix(name string) netip.Prefix {
	if s := v.String(name); s != "" {
		return mustPrefix(v, name, s)
	}
	return netip.Prefix{}
}

// Prefixes returns the values of a multi leaf of addresses or prefixes
// (VRRP virtual-address), each once.
func (v View) Prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range v.Strings(name) {
		out = append(out, mustPrefix(v, name, s))
	}
	return out
}

// AddressSpec returns the value of an AddressSpecType leaf; check Has first,
// the zero AddressSpec matches nothing.
func (v View) AddressSpec(name string) AddressSpec {
	s := v.String(name)
	if s == "" {
		return AddressSpec{}
	}
	a, err := ParseAddressSpec(s)
	if err != nil {
		panic(v.misuse("AddressSpec", name, err))
	}
	return a
}

// Ports returns the value of a PortListType leaf with service names
// resolved; check Has first, the zero PortList matches nothing.
func (v View) Ports(name string) PortList {
	s, spec := v.values(name)
	t, ok := spec.typ.(portListType)
	if !ok {
		panic(v.misuse("Ports", name, fmt.Errorf("its type is %s", spec.typ)))
	}
	if len(s) == 0 {
		return PortList{}
	}
	l, err := ParsePortList(s[0], t.services)
	if err != nil {
		panic(v.misuse("Ports", name, err))
	}
	return l
}

func mustAddr(v View, name, s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		panic(v.misuse("Addr", name, err))
	}
	return a
}

func mustPrefix(v View, name, s string) netip.Prefix {
	if !strings.Contains(s, "/") {
		a := mustAddr(v, name, s)
		return netip.PrefixFrom(a, a.BitLen())
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		panic(v.misuse("Prefix", name, err))
	}
	return p
}

func (v View) misuse(accessor, name string, err error) string {
	return fmt.Sprintf("config: View.%s(%q) at %s: %v (the schema type does not fit this accessor, or the tree was not validated)",
		accessor, name, v.describe(), err)
}
