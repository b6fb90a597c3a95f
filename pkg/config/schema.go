package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Schema describes the nodes a daemon's file may hold: their kinds, value
// types, defaults and rules. Build it once with NewSchema from Container,
// Tag, Leaf, Flag and Ignore; it is immutable afterwards and safe to share.
type Schema struct {
	root *Spec
}

// Spec declares one node of a schema. The constructors return a *Spec that
// is also an Option, so children are listed among the options of their
// parent:
//
//	config.Container("authentication",
//		config.RequiredTogether("password", "type"),
//		config.Leaf("password", config.StringMax(8)),
//		config.Leaf("type", config.Enum("plaintext-password", "ah")),
//	)
type Spec struct {
	name     string
	kind     Kind
	typ      Type // the value type of a leaf, the tag value type of a tag
	help     string
	def      string
	hasDef   bool
	multi    bool
	required bool
	aliases  []string
	// ignored, when set, accepts the node with everything below it and
	// gives this reason in a warning.
	ignored string
	// ignoreUnknown, when set, turns unknown children into warnings with
	// this reason instead of errors.
	ignoreUnknown string
	children      []*Spec
	index         map[string]*Spec // names and aliases of the children
	together      [][]string
	exclusive     [][]string
	checks        []CheckFunc
	problems      []string // declaration mistakes, reported by NewSchema
}

// Option configures a Spec. A *Spec is itself an Option that adds a child.
type Option interface{ apply(*Spec) }

type optionFunc func(*Spec)

func (f optionFunc) apply(s *Spec) { f(s) }

func (s *Spec) apply(parent *Spec) { parent.children = append(parent.children, s) }

func newSpec(name string, kind Kind, typ Type, opts []Option) *Spec {
	s := &Spec{name: name, kind: kind, typ: typ}
	for _, o := range opts {
		if o == nil {
			s.problems = append(s.problems, "nil option")
			continue
		}
		o.apply(s)
	}
	return s
}

// Container declares `name { ... }`; opts are its children and options.
func Container(name string, opts ...Option) *Spec {
	return newSpec(name, KindContainer, nil, opts)
}

// Tag declares a tag node `name value { ... }` whose tag values have type
// tagType; opts are the children of each instance and options.
func Tag(name string, tagType Type, opts ...Option) *Spec {
	return newSpec(name, KindTag, tagType, opts)
}

// Leaf declares `name value` with a value of type t.
func Leaf(name string, t Type, opts ...Option) *Spec {
	return newSpec(name, KindLeaf, t, opts)
}

// Flag declares a valueless `name`.
func Flag(name string, opts ...Option) *Spec {
	return newSpec(name, KindFlag, nil, opts)
}

// Ignore declares a node this daemon does not use but accepts, with all
// that is below it, emitting a warning that gives the reason. vrrpd's file
// may hold `duplex auto` next to `vrrp` under `interfaces ethernet eth1`.
func Ignore(name, reason string) *Spec {
	s := newSpec(name, KindContainer, nil, nil)
	s.ignored = reason
	return s
}

// Help sets the one-line description shown by help output.
func Help(text string) Option { return optionFunc(func(s *Spec) { s.help = text }) }

// Default gives a leaf the value the typed accessors return when the leaf
// is absent. The default is never printed into the file.
func Default(value string) Option {
	return optionFunc(func(s *Spec) { s.def, s.hasDef = value, true })
}

// Multi lets a leaf be written several times; its values keep their order.
func Multi() Option { return optionFunc(func(s *Spec) { s.multi = true }) }

// Required makes the node mandatory inside its parent.
func Required() Option { return optionFunc(func(s *Spec) { s.required = true }) }

// Alias accepts old or misspelt names for the node with a warning to use
// the real one (`advertisement-interval` for `advertise-interval`). A
// schema-guided parse stores the node under its real name.
func Alias(names ...string) Option {
	return optionFunc(func(s *Spec) { s.aliases = append(s.aliases, names...) })
}

// RequiredTogether requires that the named children are all present or
// all absent (VRRP `authentication password` and `type`).
func RequiredTogether(names ...string) Option {
	return optionFunc(func(s *Spec) { s.together = append(s.together, names) })
}

// MutuallyExclusive allows at most one of the named children (conntrack-sync
// `failover-mechanism vrrp` or `cluster`). Combine it with a Check to also
// require one.
func MutuallyExclusive(names ...string) Option {
	return optionFunc(func(s *Spec) { s.exclusive = append(s.exclusive, names) })
}

// IgnoreUnknown makes children the schema does not declare a warning
// (giving reason) instead of an error. The "did you mean" hint is kept.
func IgnoreUnknown(reason string) Option {
	return optionFunc(func(s *Spec) { s.ignoreUnknown = reason })
}

// CheckFunc is a custom rule over a node and its subtree. It reports
// problems through r, pointing at any node of the subtree; it runs only
// when the subtree has no other error, so the typed accessors of v are safe.
type CheckFunc func(v View, r *Report)

// Check adds a custom rule, run once for each occurrence of the node.
func Check(fn CheckFunc) Option {
	return optionFunc(func(s *Spec) { s.checks = append(s.checks, fn) })
}

// Name returns the node name.
func (s *Spec) Name() string { return s.name }

// Kind returns KindContainer, KindTag, KindLeaf or KindFlag.
func (s *Spec) Kind() Kind { return s.kind }

// Type returns the value type of a leaf or the tag value type of a tag node.
func (s *Spec) Type() Type { return s.typ }

// Help returns the description given with Help.
func (s *Spec) Help() string { return s.help }

// Default returns the default value, if any.
func (s *Spec) Default() (string, bool) { return s.def, s.hasDef }

// IsMulti reports whether a leaf may hold several values.
func (s *Spec) IsMulti() bool { return s.multi }

// IsRequired reports whether the node is mandatory.
func (s *Spec) IsRequired() bool { return s.required }

// Children returns the declared children in declaration order.
func (s *Spec) Children() []*Spec { return slices.Clone(s.children) }

// lookup finds a child by name or alias.
func (s *Spec) lookup(name string) (child *Spec, viaAlias bool) {
	c := s.index[name]
	if c == nil {
		return nil, false
	}
	return c, c.name != name
}

// NewSchema builds a schema whose top-level nodes (and root-level options
// such as Check or RequiredTogether) are opts. It returns every mistake in
// the declarations: duplicate names, a leaf without a type, a default its
// type rejects, a rule naming an undeclared child.
func NewSchema(opts ...Option) (*Schema, error) {
	root := Container("", opts...)
	var problems []string
	root.prepare(nil, &problems)
	if len(problems) > 0 {
		return nil, errors.New("config: bad schema:\n\t" + strings.Join(problems, "\n\t"))
	}
	return &Schema{root: root}, nil
}

// MustSchema is NewSchema for package-level schemas; it panics on a
// mistake, which a test of the daemon's config package catches.
func MustSchema(opts ...Option) *Schema {
	s, err := NewSchema(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// prepare indexes the children of s and checks the declarations. A Spec
// may be shared by several parents (the same vrrp block under ethernet and
// bonding); preparing it twice gives the same result.
func (s *Spec) prepare(path Path, problems *[]string) {
	if s.name != "" {
		path = path.Child(s.name)
	}
	bad := func(format string, args ...any) {
		where := "schema root"
		if len(path) > 0 {
			where = path.String()
		}
		*problems = append(*problems, where+": "+fmt.Sprintf(format, args...))
	}
	for _, p := range s.problems {
		bad("%s", p)
	}
	if (s.kind == KindLeaf || s.kind == KindTag) && s.typ == nil {
		bad("a %s needs a value type", s.kind)
	}
	if s.multi && s.kind != KindLeaf {
		bad("only a leaf can be Multi (a tag node takes many instances already)")
	}
	if s.hasDef {
		switch {
		case s.kind != KindLeaf:
			bad("only a leaf can have a Default")
		case s.required:
			bad("a Required leaf cannot have a Default")
		case s.typ != nil:
			if err := s.typ.Check(s.def); err != nil {
				bad("default %s: %v", quote(s.def), err)
			}
		}
	}
	if len(s.children) > 0 && (s.kind == KindLeaf || s.kind == KindFlag) {
		bad("a %s cannot have children", s.kind)
	}
	s.index = make(map[string]*Spec, len(s.children))
	for _, c := range s.children {
		for _, name := range append([]string{c.name}, c.aliases...) {
			if !validName(name) {
				bad("invalid node name %q", name)
			}
			if prev := s.index[name]; prev != nil {
				bad("%s declared twice (as %s and in %s)", name, prev.name, c.name)
			}
			s.index[name] = c
		}
	}
	for _, group := range append(slices.Clone(s.together), s.exclusive...) {
		if len(group) < 2 {
			bad("RequiredTogether and MutuallyExclusive need at least two names, got %q", group)
		}
		for _, name := range group {
			switch c := s.index[name]; {
			case c == nil:
				bad("rule names %q, which is not a declared child", name)
			case c.name != name:
				bad("rule names %q, an alias of %s: use the real name", name, c.name)
			}
		}
	}
	for _, fn := range s.checks {
		if fn == nil {
			bad("nil Check")
		}
	}
	for _, c := range s.children {
		c.prepare(path, problems)
	}
}

// validName reports whether s can be written as a node name: a bare word
// that does not start a comment and does not end in ':'.
func validName(s string) bool {
	return !needsQuotes(s) && !strings.HasSuffix(s, ":")
}

// Spec returns the declaration of the node at p, skipping tag values the
// way a path does ("interfaces ethernet eth0 vrrp" finds the vrrp spec);
// nil when the schema has no such node. A path ending in a leaf value
// returns the leaf's spec.
func (s *Schema) Spec(p Path) *Spec {
	cur := s.root
	for i := 0; i < len(p); i++ {
		c, _ := cur.lookup(p[i])
		if c == nil || c.ignored != "" {
			return nil
		}
		if c.kind == KindTag || c.kind == KindLeaf {
			i++ // the tag value or leaf value
		}
		if c.kind == KindLeaf && i < len(p)-1 {
			return nil
		}
		cur = c
	}
	return cur
}
