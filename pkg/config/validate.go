package config

import (
	"fmt"
	"slices"
	"strings"
)

// Validate checks t against the schema and returns every problem, not just
// the first: unknown nodes (with a "did you mean" hint), nodes of the wrong
// kind, bad values, a single-valued leaf set twice, missing required nodes,
// RequiredTogether and MutuallyExclusive rules, and the custom checks.
// Warnings (ignored nodes, deprecated aliases, duplicate values) come back
// separately. err is nil or a Diagnostics sorted by position.
func (s *Schema) Validate(t *Tree) (warnings Diagnostics, err error) {
	var v validator
	v.body(t.root, s.root, nil)
	v.runChecks(t.root, s.root, nil, 0)
	v.errs.sort()
	v.warns.sort()
	return v.warns, v.errs.Err()
}

type validator struct {
	errs, warns Diagnostics
}

func (v *validator) errorf(pos Pos, path Path, format string, args ...any) {
	v.errs = append(v.errs, diagf(pos, path, format, args...))
}

func (v *validator) warnf(pos Pos, path Path, format string, args ...any) {
	v.warns = append(v.warns, diagf(pos, path, format, args...))
}

// body checks the children of n (a container, tag instance or the root)
// and the presence rules of spec.
func (v *validator) body(n *Node, spec *Spec, path Path) {
	seen := make(map[*Spec]*Node) // a tree parsed without the schema may hold a node under two spellings
	for _, c := range n.children {
		here := path.Child(c.name)
		cs, viaAlias := spec.lookup(c.name)
		if first := seen[cs]; cs != nil && first != nil {
			v.errorf(c.pos, here, "%s is the same node as %s at %s: write it once", c.name, first.name, first.pos.lineCol())
			continue
		}
		seen[cs] = c
		switch {
		case cs == nil && spec.ignoreUnknown != "":
			hint := ""
			if near := suggest(c.name, spec.childNames()); near != "" {
				hint = " (did you mean " + near + "?)"
			}
			v.warnf(c.pos, here, "ignored: %s%s", spec.ignoreUnknown, hint)
		case cs == nil:
			v.errs = append(v.errs, unknownNode(spec, c.name, c.pos, here))
		case cs.ignored != "":
			v.warnf(c.pos, here, "ignored: %s", cs.ignored)
		default:
			alias := c.writtenAs
			if viaAlias {
				alias = c.name
			}
			if alias != "" {
				v.warnf(c.pos, path.Child(cs.name), "%s is a deprecated spelling: write %s", alias, cs.name)
			}
			v.node(c, cs, path.Child(cs.name))
		}
	}
	for _, cs := range spec.children {
		if cs.required && childOf(n, cs) == nil {
			v.errorf(n.pos, path, "%s is required%s", cs.name, typeHint(cs))
		}
	}
	for _, group := range spec.together {
		var present, missing []string
		for _, name := range group {
			if childOf(n, spec.index[name]) != nil {
				present = append(present, name)
			} else {
				missing = append(missing, name)
			}
		}
		if len(present) > 0 && len(missing) > 0 {
			v.errorf(n.pos, path, "%s must be set together (missing: %s)", joinNames(group), strings.Join(missing, ", "))
		}
	}
	for _, group := range spec.exclusive {
		var present []*Node
		for _, name := range group {
			if c := childOf(n, spec.index[name]); c != nil {
				present = append(present, c)
			}
		}
		if len(present) > 1 {
			last := slices.MaxFunc(present, func(a, b *Node) int { return comparePos(a.pos, b.pos) })
			v.errorf(last.pos, path, "%s cannot be set together (choose one)", joinNames(group))
		}
	}
}

// node checks one node declared by spec, then the custom checks of spec
// if nothing in the subtree was wrong.
func (v *validator) node(n *Node, spec *Spec, path Path) {
	if n.kind != spec.kind {
		v.errorf(n.pos, path, "%s is %s, not %s (write %s)", spec.name, kindName(spec.kind), kindName(n.kind), usage(spec))
		return
	}
	before := len(v.errs)
	switch spec.kind {
	case KindContainer:
		v.body(n, spec, path)
	case KindTag:
		for _, inst := range n.children {
			instBefore := len(v.errs)
			if err := spec.typ.Check(inst.name); err != nil {
				v.errorf(inst.pos, path, "%v", err)
			}
			v.body(inst, spec, path.Child(inst.name))
			v.runChecks(inst, spec, path.Child(inst.name), instBefore)
		}
		return
	case KindLeaf:
		v.leaf(n, spec, path)
	}
	v.runChecks(n, spec, path, before)
}

func (v *validator) leaf(n *Node, spec *Spec, path Path) {
	if !spec.multi && len(n.values) > 1 {
		v.errorf(n.ValuePos(1), path, "%s takes one value but is set again (first at %s); only a multi node may repeat",
			spec.name, n.ValuePos(0).lineCol())
	}
	firstAt := make(map[string]int, len(n.values))
	for i, value := range n.values {
		if err := spec.typ.Check(value); err != nil {
			v.errorf(n.ValuePos(i), path, "%v", err)
			continue
		}
		first, seen := firstAt[value]
		if !seen {
			firstAt[value] = i
		} else if spec.multi {
			v.warnf(n.ValuePos(i), path, "duplicate value %s is ignored (first at %s)", quote(value), n.ValuePos(first).lineCol())
		}
	}
}

// runChecks runs the custom checks of spec on n unless an error was found
// in its subtree since before (the checks may then rely on the values).
func (v *validator) runChecks(n *Node, spec *Spec, path Path, before int) {
	if len(spec.checks) == 0 || len(v.errs) > before {
		return
	}
	view := View{node: n, spec: spec, path: path, pos: n.pos}
	for _, check := range spec.checks {
		r := Report{}
		check(view, &r)
		v.errs = append(v.errs, r.errs...)
		v.warns = append(v.warns, r.warns...)
	}
}

// childOf finds the child of n that spec declares, under its name or, in a
// tree parsed without the schema, under an alias.
func childOf(n *Node, spec *Spec) *Node {
	if n == nil {
		return nil
	}
	if c := n.Child(spec.name); c != nil {
		return c
	}
	for _, alias := range spec.aliases {
		if c := n.Child(alias); c != nil {
			return c
		}
	}
	return nil
}

func comparePos(a, b Pos) int {
	if a.Line != b.Line {
		return a.Line - b.Line
	}
	return a.Col - b.Col
}

func joinNames(names []string) string {
	if len(names) == 2 {
		return names[0] + " and " + names[1]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func typeHint(s *Spec) string {
	if s.typ == nil {
		return ""
	}
	return " (" + s.typ.String() + ")"
}

// usage shows how a node of spec is written.
func usage(s *Spec) string {
	switch s.kind {
	case KindContainer:
		return s.name + " { ... }"
	case KindTag:
		return fmt.Sprintf("%s VALUE { ... }; VALUE: %s", s.name, s.typ)
	case KindLeaf:
		return fmt.Sprintf("%s VALUE; VALUE: %s", s.name, s.typ)
	}
	return s.name + " alone"
}

// Report collects what a CheckFunc finds.
type Report struct {
	errs, warns Diagnostics
}

// Errorf reports an error at the node of at (for a node that does not
// exist, at its nearest existing ancestor).
func (r *Report) Errorf(at View, format string, args ...any) {
	r.errs = append(r.errs, diagf(at.pos, at.path, format, args...))
}

// Warnf reports a warning at the node of at.
func (r *Report) Warnf(at View, format string, args ...any) {
	r.warns = append(r.warns, diagf(at.pos, at.path, format, args...))
}

// ErrorfAt reports an error about the node of at, placed at pos: one value
// of a multi leaf (at.Node().ValuePos(i)), so the message points at the
// value at fault rather than the leaf's first line.
func (r *Report) ErrorfAt(pos Pos, at View, format string, args ...any) {
	r.errs = append(r.errs, diagf(pos, at.path, format, args...))
}

// WarnfAt is ErrorfAt for a warning.
func (r *Report) WarnfAt(pos Pos, at View, format string, args ...any) {
	r.warns = append(r.warns, diagf(pos, at.path, format, args...))
}

// Config is a tree that passed validation, with the warnings found and
// typed access to its values.
type Config struct {
	tree     *Tree
	Warnings Diagnostics
}

// LoadTree validates t and returns a Config holding a copy of it, or the
// errors (as Diagnostics). Use Validate to get warnings even when there
// are errors, as a `validate` command does.
func (s *Schema) LoadTree(t *Tree) (*Config, error) {
	warnings, err := s.Validate(t)
	if err != nil {
		return nil, err
	}
	c := t.Clone()
	c.schema = s
	return &Config{tree: c, Warnings: warnings}, nil
}

// Load parses src with the schema and validates it: what a daemon does
// with its file at start and on reload.
func (s *Schema) Load(file string, src []byte) (*Config, error) {
	t, err := s.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return s.LoadTree(t)
}

// LoadFile reads the file at path and loads it.
func (s *Schema) LoadFile(path string) (*Config, error) {
	t, err := s.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return s.LoadTree(t)
}

// Tree returns the validated tree. Edit a Clone of it, not the tree itself.
func (c *Config) Tree() *Tree { return c.tree }

// Root returns the typed view of the whole file.
func (c *Config) Root() View {
	return View{node: c.tree.root, spec: c.tree.schema.root, pos: c.tree.root.pos}
}
