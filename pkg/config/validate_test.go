package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hasuite/hasuite/pkg/config"
)

// vrrpGroup wraps a vrrp-group body in its path, so the cases below show
// only what they test. The body starts on line 5, column 17.
func vrrpGroup(body string) string {
	return "interfaces {\n    ethernet eth0 {\n        vrrp {\n            vrrp-group 99 {\n" + body + "\n            }\n        }\n    }\n}\n"
}

func TestValidate(t *testing.T) {
	const g = "interfaces ethernet eth0 vrrp vrrp-group 99"
	for _, tc := range []struct {
		desc         string
		src          string
		schemaless   bool // parse without the schema, then validate
		wantErrors   []string
		wantWarnings []string
	}{
		{desc: "valid", src: vrrpGroup("priority 150 virtual-address 10.0.0.1")},
		{desc: "value out of range (the house example)", src: vrrpGroup("                priority 300\n virtual-address 10.0.0.1"),
			wantErrors: []string{"vrrpd.conf:5:26: " + g + " priority: 300 out of range 1-255"}},
		{desc: "all errors, not just the first", src: vrrpGroup(
			"priority 0 preempt maybe advertise-interval 0 hello-source-address 1.2.3 virtual-address 10.0.0.1/40 virtual-address 10.0.0.2"),
			wantErrors: []string{
				"vrrpd.conf:5:10: " + g + " priority: 0 out of range 1-255",
				"vrrpd.conf:5:20: " + g + " preempt: maybe is not one of true|false",
				"vrrpd.conf:5:45: " + g + " advertise-interval: 0 out of range 1-255 seconds",
				"vrrpd.conf:5:68: " + g + " hello-source-address: 1.2.3 is not an IPv4 address a.b.c.d",
				"vrrpd.conf:5:90: " + g + " virtual-address: 10.0.0.1/40 is not an IPv4 address a.b.c.d with optional /len",
			}},
		{desc: "tag value out of range", src: "interfaces { ethernet eth0 { vrrp { vrrp-group 256 { virtual-address 1.1.1.1 } } } }",
			wantErrors: []string{"vrrpd.conf:1:48: interfaces ethernet eth0 vrrp vrrp-group: 256 out of range 1-255"}},
		{desc: "bad interface name as tag value", src: "interfaces { ethernet eth0/1 { } }",
			wantErrors: []string{"vrrpd.conf:1:23: interfaces ethernet: interface name eth0/1 contains a character Linux does not allow ('/', ':' or white space)"}},
		{desc: "single-valued leaf given twice", src: vrrpGroup("priority 150\npriority 20\nvirtual-address 10.0.0.1"),
			wantErrors: []string{"vrrpd.conf:6:10: " + g + " priority: priority takes one value but is set again (first at 5:10); only a multi node may repeat"}},
		{desc: "required leaf missing", src: vrrpGroup("priority 150"),
			wantErrors: []string{"vrrpd.conf:4:24: " + g + ": virtual-address is required (IPv4 address a.b.c.d with optional /len)"}},
		{desc: "required at the top of a block", src: "cluster {\n    interface eth0\n    group c { primary R1 secondary R2 }\n}\n",
			wantErrors: []string{
				"vrrpd.conf:1:1: cluster: pre-shared-secret is required (text)",
				"vrrpd.conf:3:11: cluster group c: service is required (text)",
			}},
		{desc: "required together", src: vrrpGroup("authentication { password secret1 }\nvirtual-address 10.0.0.1"),
			wantErrors: []string{"vrrpd.conf:5:1: " + g + " authentication: password and type must be set together (missing: type)"}},
		{desc: "required together, both set", src: vrrpGroup("authentication { password secret1 type ah }\nvirtual-address 10.0.0.1")},
		{desc: "secret not echoed", src: vrrpGroup("authentication { password verysecret9 type ah }\nvirtual-address 10.0.0.1"),
			wantErrors: []string{"vrrpd.conf:5:27: " + g + " authentication password: value is 11 characters long; at most 8 are allowed"}},
		{desc: "mutually exclusive", src: "service {\n    conntrack-sync {\n        failover-mechanism {\n            vrrp { sync-group A }\n            cluster { group B }\n        }\n        interface eth1\n    }\n}\n",
			wantErrors: []string{"vrrpd.conf:5:13: service conntrack-sync failover-mechanism: cluster and vrrp cannot be set together (choose one)"}},
		{desc: "custom check, exactly one mechanism", src: "service { conntrack-sync { failover-mechanism { } interface eth1 } }",
			wantErrors: []string{"vrrpd.conf:1:28: service conntrack-sync failover-mechanism: set cluster group NAME or vrrp sync-group NAME"}},
		{desc: "custom check at a node", src: vrrpGroup("priority 255 preempt false virtual-address 10.0.0.1"),
			wantErrors: []string{"vrrpd.conf:5:14: " + g + " preempt: the address owner (priority 255) always preempts: remove `preempt false`"}},
		{desc: "custom check across instances", src: "system { config-sync { remote-router 1.2.3.4 { password p username u sync-map NOPE } sync-map MAP { } } }",
			wantErrors: []string{"vrrpd.conf:1:70: system config-sync remote-router 1.2.3.4 sync-map: no sync-map NOPE is declared"}},
		{desc: "custom checks skip subtrees with errors", src: vrrpGroup("priority 255 preempt nope virtual-address 10.0.0.1"),
			wantErrors: []string{"vrrpd.conf:5:22: " + g + " preempt: nope is not one of true|false"}},
		{desc: "unknown node with hint", src: "cluster {\n    dead-inteval 2000\n}\n",
			wantErrors: []string{
				"vrrpd.conf:1:1: cluster: interface is required (interface name)",
				"vrrpd.conf:1:1: cluster: pre-shared-secret is required (text)",
				"vrrpd.conf:2:5: cluster dead-inteval: unknown node (did you mean dead-interval?)",
			}},
		{desc: "unknown node without a near name", src: "bgp { }",
			wantErrors: []string{"vrrpd.conf:1:1: bgp: unknown node (allowed here: interfaces, load-balancing, cluster, service, system, protocols)"}},
		{desc: "unknown below a node without children", src: "protocols { static { route 0.0.0.0/0 { next-hop 1.1.1.1 { distance 1 } } } }",
			wantErrors: []string{"vrrpd.conf:1:59: protocols static route 0.0.0.0/0 next-hop 1.1.1.1 distance: unknown node (nothing is allowed here)"}},
		{desc: "wrong kinds in a tree parsed without the schema", schemaless: true,
			src: "cluster {\n    dead-interval { }\n    interface eth0\n    pre-shared-secret\n    group x\n}\nload-balancing { wan { flush-connections yes rule 1 { exclude { } inbound-interface eth0 } } }\n",
			wantErrors: []string{
				"vrrpd.conf:2:5: cluster dead-interval: dead-interval is a leaf, not a block (write dead-interval VALUE; VALUE: duration 1000-3600000 milliseconds (or with a unit: 500ms, 2s))",
				"vrrpd.conf:4:5: cluster pre-shared-secret: pre-shared-secret is a leaf, not a flag (write pre-shared-secret VALUE; VALUE: text)",
				"vrrpd.conf:5:5: cluster group: group is a tag node, not a leaf (write group VALUE { ... }; VALUE: a name of 1-64 letters, digits, '_', '.' or '-')",
				"vrrpd.conf:7:24: load-balancing wan flush-connections: flush-connections is a flag, not a leaf (write flush-connections alone)",
				"vrrpd.conf:7:55: load-balancing wan rule 1 exclude: exclude is a flag, not a block (write exclude alone)",
			}},
		{desc: "ignored subtrees and unknown children warn", src: "firewall { name x { } }\ninterfaces {\n    ethernet eth1 {\n        duplex auto\n        vrp { }\n    }\n    loopback lo { }\n}\n",
			wantWarnings: []string{
				"vrrpd.conf:1:1: firewall: ignored: not managed by hasuite",
				"vrrpd.conf:4:9: interfaces ethernet eth1 duplex: ignored: not a VRRP setting",
				"vrrpd.conf:5:9: interfaces ethernet eth1 vrp: ignored: not a VRRP setting (did you mean vrrp?)",
				"vrrpd.conf:7:5: interfaces loopback: ignored: not an interface type vrrpd uses",
			}},
		{desc: "deprecated alias", src: vrrpGroup("advertisement-interval 1 virtual-address 10.0.0.1"),
			wantWarnings: []string{"vrrpd.conf:5:1: " + g + " advertise-interval: advertisement-interval is a deprecated spelling: write advertise-interval"}},
		{desc: "deprecated alias in a tree parsed without the schema", schemaless: true, src: vrrpGroup("advertisement-interval 1\nvirtual-address 10.0.0.1"),
			wantWarnings: []string{"vrrpd.conf:5:1: " + g + " advertise-interval: advertisement-interval is a deprecated spelling: write advertise-interval"}},
		{desc: "alias and real name together are one leaf", src: vrrpGroup("advertisement-interval 1 advertise-interval 2 virtual-address 10.0.0.1"),
			wantErrors:   []string{"vrrpd.conf:5:45: " + g + " advertise-interval: advertise-interval takes one value but is set again (first at 5:24); only a multi node may repeat"},
			wantWarnings: []string{"vrrpd.conf:5:1: " + g + " advertise-interval: advertisement-interval is a deprecated spelling: write advertise-interval"}},
		{desc: "alias and real name in a tree parsed without the schema", schemaless: true,
			src:          vrrpGroup("advertisement-interval 1\nadvertise-interval 2\nvirtual-address 10.0.0.1"),
			wantErrors:   []string{"vrrpd.conf:5:1: " + g + " advertisement-interval: advertisement-interval is the same node as advertise-interval at 6:1: write it once"},
			wantWarnings: nil},
		{desc: "duplicate values of a multi leaf", src: vrrpGroup("virtual-address 10.0.0.1\nvirtual-address 10.0.0.1"),
			wantWarnings: []string{"vrrpd.conf:6:17: " + g + " virtual-address: duplicate value 10.0.0.1 is ignored (first at 5:17)"}},
		{desc: "port needs tcp or udp", src: "load-balancing { wan { rule 1 { inbound-interface eth0 destination { port http } } } }",
			wantErrors: []string{"vrrpd.conf:1:70: load-balancing wan rule 1 destination port: a port match needs protocol tcp or udp (protocol is all)"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			parse := guideSchema.Parse
			if tc.schemaless {
				parse = config.Parse
			}
			tree, err := parse("vrrpd.conf", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			warnings, err := guideSchema.Validate(tree)
			var got []string
			var diags config.Diagnostics
			if errors.As(err, &diags) {
				for _, d := range diags {
					got = append(got, d.Error())
				}
			} else if err != nil {
				t.Fatalf("error %v is not Diagnostics", err)
			}
			if !slices.Equal(got, tc.wantErrors) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantErrors, "\n"))
			}
			var gotWarnings []string
			for _, w := range warnings {
				gotWarnings = append(gotWarnings, w.Error())
			}
			if !slices.Equal(gotWarnings, tc.wantWarnings) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(gotWarnings, "\n"), strings.Join(tc.wantWarnings, "\n"))
			}
			if err != nil {
				var d *config.Diagnostic
				if !errors.As(err, &d) || d.Line == 0 || d.File != "vrrpd.conf" {
					t.Errorf("errors.As(*Diagnostic) = %+v", d)
				}
				if err.Error() != strings.Join(got, "\n") {
					t.Errorf("the joined error prints as\n%s", err)
				}
			}
		})
	}
}

func TestSchemaDeclarationErrors(t *testing.T) {
	_, err := config.NewSchema(
		config.Leaf("a", nil),
		config.Tag("b", nil),
		config.Container("c", config.Multi(), config.Default("x")),
		config.Leaf("d", config.Int(1, 2), config.Default("3")),
		config.Leaf("e", config.Int(1, 2), config.Default("1"), config.Required()),
		config.Flag("f", config.Flag("g")),
		config.Container("h",
			config.Flag("x"), config.Flag("x"),
			config.Flag("y", config.Alias("x")),
			config.RequiredTogether("x", "nope"),
			config.MutuallyExclusive("x"),
			config.Check(nil),
		),
		config.Flag("bad name"),
		config.Flag("colon:"),
		nil,
	)
	want := `config: bad schema:
	schema root: nil option
	schema root: invalid node name "bad name"
	schema root: invalid node name "colon:"
	a: a leaf needs a value type
	b: a tag node needs a value type
	c: only a leaf can be Multi (a tag node takes many instances already)
	c: only a leaf can have a Default
	d: default 3: 3 out of range 1-2
	e: a Required leaf cannot have a Default
	f: a flag cannot have children
	h: x declared twice (as x and in x)
	h: x declared twice (as x and in y)
	h: rule names "x", an alias of y: use the real name
	h: rule names "nope", which is not a declared child
	h: RequiredTogether and MutuallyExclusive need at least two names, got ["x"]
	h: rule names "x", an alias of y: use the real name
	h: nil Check`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustSchema did not panic on a bad schema")
		}
	}()
	config.MustSchema(config.Leaf("a", nil))
}

func TestSchemaSpecLookup(t *testing.T) {
	for _, tc := range []struct {
		path, want string
		kind       config.Kind
	}{
		{"interfaces ethernet eth0 vrrp vrrp-group 99 priority", "priority", config.KindLeaf},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 priority 150", "priority", config.KindLeaf},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 advertisement-interval", "advertise-interval", config.KindLeaf},
		{"interfaces ethernet eth0 vif 15 vrrp", "vrrp", config.KindContainer},
		{"cluster group", "group", config.KindTag},
		{"interfaces ethernet eth0 vrrp vrrp-group 99 priority 150 x", "", 0},
		{"firewall", "", 0},
		{"cluster nope", "", 0},
	} {
		s := guideSchema.Spec(config.MustPath(tc.path))
		if tc.want == "" {
			if s != nil {
				t.Errorf("Spec(%s) = %s, want nil", tc.path, s.Name())
			}
			continue
		}
		if s == nil || s.Name() != tc.want || s.Kind() != tc.kind {
			t.Errorf("Spec(%s) = %v", tc.path, s)
		}
	}
	prio := guideSchema.Spec(config.MustPath("interfaces ethernet eth0 vrrp vrrp-group 1 priority"))
	if def, ok := prio.Default(); !ok || def != "100" || prio.Type().String() != "integer 1-255" || prio.IsMulti() || prio.IsRequired() {
		t.Errorf("priority spec: default %q %v, type %s", def, ok, prio.Type())
	}
	group := guideSchema.Spec(config.MustPath("interfaces ethernet eth0 vrrp vrrp-group"))
	if group.Help() != "a VRRP group (its VRID)" || len(group.Children()) == 0 {
		t.Errorf("vrrp-group spec: help %q", group.Help())
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "vrrpd.conf")
	if err := os.WriteFile(good, []byte(vrrpGroup("advertisement-interval 2 virtual-address 10.0.0.1")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := guideSchema.LoadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Msg, "deprecated") {
		t.Errorf("warnings %v", cfg.Warnings)
	}
	group := cfg.Root().Child("interfaces").Instances("ethernet")[0].Child("vrrp").Instances("vrrp-group")[0]
	if got := group.Duration("advertisement-interval"); got.Seconds() != 2 {
		t.Errorf("advertise-interval via its alias = %s", got)
	}
	if printed := cfg.Tree().String(); !strings.Contains(printed, "advertise-interval 2") || strings.Contains(printed, "advertisement") {
		t.Errorf("the alias is not stored under the real name:\n%s", printed)
	}

	if _, err := guideSchema.Load("bad.conf", []byte(vrrpGroup("priority 300 virtual-address 10.0.0.1"))); err == nil ||
		err.Error() != "bad.conf:5:10: interfaces ethernet eth0 vrrp vrrp-group 99 priority: 300 out of range 1-255" {
		t.Errorf("Load of a bad file: %v", err)
	}
	if _, err := guideSchema.Load("bad.conf", []byte("cluster {")); err == nil {
		t.Error("Load of an unparsable file succeeded")
	}
	if _, err := guideSchema.LoadFile(filepath.Join(dir, "missing.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file: %v", err)
	}
	if _, err := config.ParseFile(filepath.Join(dir, "missing.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile of a missing file: %v", err)
	}
	if tree, err := config.ParseFile(good); err != nil || tree.Get(config.MustPath("interfaces ethernet eth0")) == nil {
		t.Errorf("ParseFile: %v", err)
	}

	// A Config keeps its own copy: editing the tree it was checked from
	// cannot make the typed view read a bad value.
	tree := mustParse(t, guideSchema, vrrpGroup("priority 7 virtual-address 10.0.0.1"))
	cfg, err = guideSchema.LoadTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Delete(config.MustPath("interfaces")); err != nil {
		t.Fatal(err)
	}
	if cfg.Tree().Get(config.MustPath("interfaces ethernet eth0 vrrp vrrp-group 99 priority 7")) == nil {
		t.Error("the Config shares its tree with the caller")
	}
}
