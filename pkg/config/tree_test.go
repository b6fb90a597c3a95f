package config_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hasuite/hasuite/pkg/config"
)

const vrrpFile = `interfaces {
    ethernet eth0 {
        vrrp {
            vrrp-group 99 {
                priority 150
                virtual-address 172.16.0.24/24
                virtual-address 172.16.0.25
            }
            vrrp-group 101 {
                virtual-address 172.16.30.24/24
            }
        }
    }
}
`

func mustParse(t *testing.T, s *config.Schema, src string) *config.Tree {
	t.Helper()
	parse := config.Parse
	if s != nil {
		parse = s.Parse
	}
	tree, err := parse("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestGetAndList(t *testing.T) {
	tree := mustParse(t, nil, vrrpFile)
	for _, tc := range []struct {
		path     string
		exists   bool
		wantKind config.Kind
		list     []string
	}{
		{"", true, config.KindContainer, []string{"interfaces"}},
		{"interfaces ethernet", true, config.KindTag, []string{"eth0"}},
		{"interfaces ethernet eth0 vrrp", true, config.KindContainer, []string{"vrrp-group"}},
		{"interfaces ethernet eth0 vrrp vrrp-group", true, config.KindTag, []string{"99", "101"}},
		{"interfaces ethernet eth0 vrrp vrrp-group 99", true, config.KindInstance, []string{"priority", "virtual-address"}},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address", true, config.KindLeaf, []string{"172.16.0.24/24", "172.16.0.25"}},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address 172.16.0.25", true, config.KindLeaf, []string{"172.16.0.24/24", "172.16.0.25"}},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address 10.0.0.1", false, 0, nil},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 priority 150 extra", false, 0, nil},
		{"interfaces ethernet eth1", false, 0, nil},
		{"interfaces eth0", false, 0, nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p := config.MustPath(tc.path)
			n := tree.Get(p)
			if (n != nil) != tc.exists {
				t.Fatalf("Get(%q) = %v, exists %v", tc.path, n, tc.exists)
			}
			if n != nil && n.Kind() != tc.wantKind {
				t.Errorf("kind %s, want %s", n.Kind(), tc.wantKind)
			}
			if got := tree.List(p); !slices.Equal(got, tc.list) {
				t.Errorf("List = %q, want %q", got, tc.list)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    config.Path
		printed string
		err     string
	}{
		{in: "interfaces ethernet eth0", want: config.Path{"interfaces", "ethernet", "eth0"}, printed: "interfaces ethernet eth0"},
		{in: `  system login user "dave smith"  `, want: config.Path{"system", "login", "user", "dave smith"}, printed: `system login user "dave smith"`},
		{in: `a "" "q\"uote" #x /*y`, want: config.Path{"a", "", `q"uote`, "#x", "/*y"}, printed: `a "" "q\"uote" "#x" "/*y"`},
		{in: "", want: config.Path{}, printed: ""},
		{in: "a {", err: `config: bad path "a {": 1:3: unexpected '{' in a path (quote values that contain braces)`},
		{in: `a "b`, err: `config: bad path "a \"b": 1:3: unterminated string (add a closing '"' to the string opened here)`},
	} {
		p, err := config.ParsePath(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParsePath(%q) error %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(p, tc.want) || p.String() != tc.printed {
			t.Errorf("ParsePath(%q) = %q (%q), %v; want %q (%q)", tc.in, p, p.String(), err, tc.want, tc.printed)
		}
		again, _ := config.ParsePath(p.String())
		if !slices.Equal(again, p) {
			t.Errorf("ParsePath(%q.String()) = %q", p, again)
		}
	}
}

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		start string
		sets  []string
		want  []string // SetStyle afterwards
		err   string
	}{
		{desc: "creates the path Vyatta style", sets: []string{"interfaces ethernet eth0 vrrp vrrp-group 99 priority 150"},
			want: []string{"interfaces ethernet eth0 vrrp vrrp-group 99 priority 150"}},
		{desc: "replaces a single value", start: "cluster { keepalive-interval 2000 }", sets: []string{"cluster keepalive-interval 500"},
			want: []string{"cluster keepalive-interval 500"}},
		{desc: "appends to a multi leaf once", start: "cluster { interface eth0 }",
			sets: []string{"cluster interface eth1", "cluster interface eth0"},
			want: []string{"cluster interface eth0", "cluster interface eth1"}},
		{desc: "flag and empty tag instance", sets: []string{"load-balancing wan rule 10 exclude", "load-balancing wan rule 20"},
			want: []string{"load-balancing wan rule 10 exclude", "load-balancing wan rule 20"}},
		{desc: "alias is stored under the real name", sets: []string{"interfaces ethernet eth0 vrrp vrrp-group 1 advertisement-interval 2"},
			want: []string{"interfaces ethernet eth0 vrrp vrrp-group 1 advertise-interval 2"}},
		{desc: "value checked", sets: []string{"interfaces ethernet eth0 vrrp vrrp-group 99 priority 300"},
			err: "config: set interfaces ethernet eth0 vrrp vrrp-group 99 priority 300: 300 out of range 1-255"},
		{desc: "tag value checked", sets: []string{"interfaces ethernet eth0 vrrp vrrp-group 0"},
			err: "config: set interfaces ethernet eth0 vrrp vrrp-group 0: 0 out of range 1-255"},
		{desc: "unknown node with hint", sets: []string{"cluster dead-inteval 2000"},
			err: "config: set cluster dead-inteval 2000: cluster dead-inteval: unknown node (did you mean dead-interval?)"},
		{desc: "leaf needs its value", sets: []string{"cluster dead-interval"},
			err: "config: set cluster dead-interval: dead-interval needs a value (duration 1000-3600000 milliseconds (or with a unit: 500ms, 2s))"},
		{desc: "leaf takes one value", sets: []string{"cluster dead-interval 2000 3000"},
			err: "config: set cluster dead-interval 2000 3000: dead-interval takes one value (quote values that contain spaces)"},
		{desc: "flag takes none", sets: []string{"load-balancing wan flush-connections yes"},
			err: "config: set load-balancing wan flush-connections yes: flush-connections is a flag and takes no value"},
		{desc: "ignored nodes are not ours to set", sets: []string{"firewall name x"},
			err: "config: set firewall name x: firewall: unknown node (allowed here: interfaces, load-balancing, cluster, service, system, protocols)"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			tree := mustParse(t, guideSchema, tc.start)
			var err error
			for _, s := range tc.sets {
				if err = tree.Set(config.MustPath(s)); err != nil {
					break
				}
			}
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v\nwant  %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tree.SetStyle(); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}

	t.Run("without a schema", func(t *testing.T) {
		err := mustParse(t, nil, "").Set(config.MustPath("cluster interface eth0"))
		if !errors.Is(err, config.ErrNoSchema) {
			t.Errorf("got %v, want ErrNoSchema", err)
		}
	})
	t.Run("on a node of another kind", func(t *testing.T) {
		tree := config.NewTree(guideSchema)
		// Replace copies kinds from its source, which here knows no schema.
		if err := tree.Replace(config.Path{"cluster"}, mustParse(t, nil, "cluster x")); err != nil {
			t.Fatal(err)
		}
		err := tree.Set(config.MustPath("cluster dead-interval 2000"))
		want := "config: set cluster dead-interval 2000: cluster is a leaf, not a container: node exists with another kind"
		if !errors.Is(err, config.ErrConflict) || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
	})
}

func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		path string
		want []string
		err  error
	}{
		{"interfaces ethernet eth0 vrrp vrrp-group 99 priority", []string{
			"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address 172.16.0.24/24",
			"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address 172.16.0.25",
			"interfaces ethernet eth0 vrrp vrrp-group 101 virtual-address 172.16.30.24/24"}, nil},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address 172.16.0.24/24", []string{
			"interfaces ethernet eth0 vrrp vrrp-group 99 priority 150",
			"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address 172.16.0.25",
			"interfaces ethernet eth0 vrrp vrrp-group 101 virtual-address 172.16.30.24/24"}, nil},
		{"interfaces ethernet eth0 vrrp vrrp-group 101 virtual-address 172.16.30.24/24", []string{
			"interfaces ethernet eth0 vrrp vrrp-group 99 priority 150",
			"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address 172.16.0.24/24",
			"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address 172.16.0.25",
			"interfaces ethernet eth0 vrrp vrrp-group 101"}, nil},
		{"interfaces ethernet eth0 vrrp vrrp-group 99", []string{
			"interfaces ethernet eth0 vrrp vrrp-group 101 virtual-address 172.16.30.24/24"}, nil},
		{"interfaces ethernet eth0", []string{"interfaces"}, nil},
		{"interfaces", nil, nil},
		{"interfaces ethernet eth1", nil, config.ErrNotFound},
		{"", nil, nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			tree := mustParse(t, nil, vrrpFile)
			err := tree.Delete(config.MustPath(tc.path))
			if tc.path == "" {
				if err == nil {
					t.Error("deleting the empty path must fail")
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if got := tree.SetStyle(); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	t.Run("last instance takes the tag node with it", func(t *testing.T) {
		tree := mustParse(t, nil, "a {\n  rule 1 {\n  }\n  b 2\n}\n")
		if err := tree.Delete(config.MustPath("a rule 1")); err != nil {
			t.Fatal(err)
		}
		if got := tree.List(config.Path{"a"}); !slices.Equal(got, []string{"b"}) {
			t.Errorf("a holds %q", got)
		}
	})
}

func TestReplace(t *testing.T) {
	master := mustParse(t, nil, "cluster {\n  group MAIN {\n    monitor 1.1.1.1\n  }\n}\nservice {\n  nat {\n    rule 10 {\n      type masquerade\n    }\n  }\n}\n")
	for _, tc := range []struct {
		desc  string
		start string
		path  string
		want  []string
		err   string
	}{
		{desc: "copies with the path leading to it", path: "service nat",
			want: []string{"service nat rule 10 type masquerade"}},
		{desc: "replaces what was there", start: "service { nat { rule 20 { type source } } https }", path: "service nat",
			want: []string{"service https", "service nat rule 10 type masquerade"}},
		{desc: "deletes what the source lacks", start: "service { ssh { } }\nx 1", path: "service ssh",
			want: []string{"service", "x 1"}},
		{desc: "absent on both sides is fine", start: "x 1", path: "service ssh", want: []string{"x 1"}},
		{desc: "a tag instance", start: "cluster { group MAIN { monitor 2.2.2.2 } group B { } }", path: "cluster group MAIN",
			want: []string{"cluster group B", "cluster group MAIN monitor 1.1.1.1"}},
		{desc: "conflicting kinds", start: "service x", path: "service nat",
			err: "config: replace service nat: service is a leaf here but a container in the source: node exists with another kind"},
		{desc: "a path ending in a value", path: "cluster group MAIN monitor 1.1.1.1",
			err: "config: replace cluster group MAIN monitor 1.1.1.1: the path ends in a leaf value; give the path of the leaf"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			tree := mustParse(t, nil, tc.start)
			err := tree.Replace(config.MustPath(tc.path), master)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v\nwant  %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tree.SetStyle(); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	t.Run("the copy is independent of the source", func(t *testing.T) {
		tree := config.NewTree(nil)
		if err := tree.Replace(config.MustPath("cluster"), master); err != nil {
			t.Fatal(err)
		}
		if err := tree.Delete(config.MustPath("cluster group MAIN monitor 1.1.1.1")); err != nil {
			t.Fatal(err)
		}
		if master.Get(config.MustPath("cluster group MAIN monitor 1.1.1.1")) == nil {
			t.Error("deleting in the copy changed the source")
		}
	})
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		desc string
		src  string
		want string
	}{
		{"canonical order and indentation", "z 1\nb { y 2 x { } }\nrule 10 { }\nrule 9 { a 1 }\n",
			"b {\n    x {\n    }\n    y 2\n}\nrule 9 {\n    a 1\n}\nrule 10 {\n}\nz 1\n"},
		{"quotes only when needed", "a \"plain\"\nb \"two words\"\nc \"\"\nd \"{x}\"\ne \"#x\"\nf \"/*x\"\ng \"q\\\"\"\nh \"tab\\t\"\ni \"x#y\"\nj \"!secret!\"\n",
			"a plain\nb \"two words\"\nc \"\"\nd \"{x}\"\ne \"#x\"\nf \"/*x\"\ng \"q\\\"\"\nh \"tab\\t\"\ni x#y\nj !secret!\n"},
		{"quoted tag values", "user \"dave smith\" { level admin }", "user \"dave smith\" {\n    level admin\n}\n"},
		{"multi values keep their order", "service b\nservice a\n", "service b\nservice a\n"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			tree := mustParse(t, nil, tc.src)
			if got := tree.String(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			var b strings.Builder
			if _, err := tree.WriteTo(&b); err != nil || b.String() != tc.want {
				t.Errorf("WriteTo wrote %q, %v", b.String(), err)
			}
		})
	}
}

func TestNodeString(t *testing.T) {
	tree := mustParse(t, nil, vrrpFile)
	for _, tc := range []struct{ path, want string }{
		{"interfaces ethernet eth0 vrrp vrrp-group 99 priority", "priority 150\n"},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 virtual-address", "virtual-address 172.16.0.24/24\nvirtual-address 172.16.0.25\n"},
		{"interfaces ethernet eth0 vrrp vrrp-group 101", "101 {\n    virtual-address 172.16.30.24/24\n}\n"},
		{"interfaces ethernet eth0 vrrp vrrp-group", "vrrp-group 99 {\n    priority 150\n    virtual-address 172.16.0.24/24\n    virtual-address 172.16.0.25\n}\nvrrp-group 101 {\n    virtual-address 172.16.30.24/24\n}\n"},
		{"", vrrpFile},
	} {
		if got := tree.Get(config.MustPath(tc.path)).String(); got != tc.want {
			t.Errorf("%s:\ngot\n%s\nwant\n%s", tc.path, got, tc.want)
		}
	}
	vrrp := config.MustPath("interfaces ethernet eth0 vrrp vrrp-group 101")
	if got, want := tree.Get(vrrp).SetStyle(vrrp), []string{"interfaces ethernet eth0 vrrp vrrp-group 101 virtual-address 172.16.30.24/24"}; !slices.Equal(got, want) {
		t.Errorf("SetStyle = %q, want %q", got, want)
	}
}
