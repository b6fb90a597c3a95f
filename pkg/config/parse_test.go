package config_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hasuite/hasuite/pkg/config"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		src    string
		schema bool // parse with guideSchema
		want   string
	}{
		{desc: "unterminated string", src: "cluster {\n  pre-shared-secret \"abc\n}\n",
			want: `t.conf:2:21: unterminated string (add a closing '"' to the string opened here)`},
		{desc: "unterminated string after a backslash", src: `a "b\`,
			want: `t.conf:1:3: unterminated string (add a closing '"' to the string opened here)`},
		{desc: "unknown escape", src: `description "C:\temp\x"`,
			want: `t.conf:1:21: unknown escape \x in string (write \\ for a backslash; known escapes: \" \\ \n \t)`},
		{desc: "unterminated comment", src: "cluster {\n/* note\n}\n",
			want: "t.conf:2:1: unterminated comment (add */ to close the comment opened here)"},
		{desc: "stray close brace", src: "cluster {\n}\n}\n",
			want: "t.conf:3:1: unexpected '}' (no block is open here)"},
		{desc: "missing close brace", src: "load-balancing {\n  wan {\n    rule 10 {\n  }\n}\n",
			want: "t.conf:1:16: load-balancing: missing '}': the block opened here is never closed"},
		{desc: "open brace without a name", src: "cluster {\n  { }\n}",
			want: "t.conf:2:3: cluster: unexpected '{' (a block needs a name before it)"},
		{desc: "quoted node name", src: `"cluster" { }`,
			want: `t.conf:1:1: expected a node name, found the quoted string cluster (node names are never quoted)`},
		{desc: "colon typo of the guide", src: "cluster {\n    pre-shared-secret: \"!secret!\"\n}\n",
			want: "t.conf:2:22: cluster: unexpected ':' after pre-shared-secret (write `pre-shared-secret VALUE`)"},
		{desc: "colon typo, schema-guided", schema: true, src: "cluster { keepalive-interval: 2000 }",
			want: "t.conf:1:29: cluster: unexpected ':' after keepalive-interval (write `keepalive-interval VALUE`)"},
		{desc: "lone colon", src: "a {\n:\n}",
			want: "t.conf:2:1: a: unexpected ':' (write NAME VALUE)"},
		{desc: "quote inside a word", src: `description abc"def"`,
			want: `t.conf:1:16: unexpected '"' inside the word abc (quote the whole value)`},
		{desc: "control character", src: "a\x01b",
			want: "t.conf:1:2: invalid character U+0001 (quote values that contain control characters)"},
		{desc: "same name as block and leaf", src: "a {\n}\na b\n",
			want: "t.conf:3:1: a: written as a leaf (name value) here but as a block (name { ... }) at 1:1"},
		{desc: "same name as tag node and flag", src: "rule 10 {\n}\nrule\n",
			want: "t.conf:3:1: rule: written as a flag (name alone) here but as a tag node (name value { ... }) at 1:1"},
		{desc: "schema: container without block", schema: true, src: "cluster dead-interval 10000",
			want: "t.conf:1:1: cluster: cluster is a block: write cluster { ... }"},
		{desc: "schema: tag without value", schema: true, src: "cluster { group }",
			want: "t.conf:1:11: cluster group: group needs a value (a name of 1-64 letters, digits, '_', '.' or '-'): write group VALUE { ... }"},
		{desc: "schema: leaf without value", schema: true, src: "cluster {\n  dead-interval\n  10000\n}",
			want: "t.conf:2:3: cluster dead-interval: dead-interval needs a value on the same line (duration 1000-3600000 milliseconds (or with a unit: 500ms, 2s))"},
		{desc: "schema: leaf with a block", schema: true, src: "cluster { dead-interval 10000 { } }",
			want: "t.conf:1:31: cluster dead-interval: dead-interval takes a value, not a block"},
		{desc: "schema: flag with a block", schema: true, src: "load-balancing { wan { flush-connections { } } }",
			want: "t.conf:1:42: load-balancing wan flush-connections: flush-connections is a flag: it takes no block"},
		{desc: "schema: flag with a quoted value", schema: true, src: `load-balancing { wan { flush-connections "yes" } }`,
			want: "t.conf:1:42: load-balancing wan flush-connections: flush-connections is a flag: it takes no value"},
		{desc: "nesting too deep", src: strings.Repeat("a {\n", 202),
			want: "t.conf:201:3: a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a: blocks nested deeper than 200 levels"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			parse := config.Parse
			if tc.schema {
				parse = guideSchema.Parse
			}
			tree, err := parse("t.conf", []byte(tc.src))
			if err == nil {
				t.Fatalf("parsed without error:\n%s", tree.Format())
			}
			if err.Error() != tc.want {
				t.Errorf("error\n%s\nwant\n%s", err, tc.want)
			}
			var d *config.Diagnostic
			if !errors.As(err, &d) || d.File != "t.conf" || d.Line == 0 {
				t.Errorf("errors.As gives %+v", d)
			}
		})
	}
}

// TestParseLayout covers the layout-guided reading of every statement
// shape and the lexical details.
func TestParseLayout(t *testing.T) {
	for _, tc := range []struct {
		desc string
		src  string
		want []string // SetStyle of the tree
	}{
		{"flag alone on a line, leaf, block, tag", "a\nb 1\nc {\n}\nd x {\n}\n",
			[]string{"a", "b 1", "c", "d x"}},
		{"flattened text pairs words", "vrrp-group 99 { preempt true rfc3768-compatibility virtual-address 1.2.3.4/24 }",
			[]string{"vrrp-group 99 1.2.3.4/24", "vrrp-group 99 preempt true", "vrrp-group 99 rfc3768-compatibility virtual-address"}},
		{"repeated leaf is a list in order", "monitor 10.6.0.55\nmonitor 1.1.1.1\nmonitor 10.6.0.55\n",
			[]string{"monitor 10.6.0.55", "monitor 1.1.1.1", "monitor 10.6.0.55"}},
		{"tag instances merge and sort numerically", "rule 10 { a 1 }\nrule 5 { }\nrule 10 { b 2 }\nrule 9 { }",
			[]string{"rule 5", "rule 9", "rule 10 a 1", "rule 10 b 2"}},
		{"containers written twice merge", "x { a 1 }\nx { b 2 }", []string{"x a 1", "x b 2"}},
		{"a flag written twice is one flag", "exclude\nexclude\n", []string{"exclude"}},
		{"quoted values and escapes", `location "interfaces ethernet eth0 firewall"` + "\n" + `description "say \"hi\" \\ o/\tok"` + "\n" + `password ""`,
			[]string{`description "say \"hi\" \\ o/\tok"`, `location "interfaces ethernet eth0 firewall"`, `password ""`}},
		{"quoted string spans lines", "description \"a\nb\"\n", []string{`description "a\nb"`}},
		{"values with special characters", "a 172.16.0.24/24\nb eth+\nc !22,telnet,http\nd 00:aa:00:71:8f:01\ne 12.34.56.78/24/eth0\nf ipsec::arg\ng $1$4X/z*\nh x#y\ni a/*b",
			[]string{"a 172.16.0.24/24", "b eth+", "c !22,telnet,http", "d 00:aa:00:71:8f:01", "e 12.34.56.78/24/eth0", "f ipsec::arg", "g $1$4X/z*", "h x#y", "i a/*b"}},
		{"comments", "# heading\na 1 # trailing\n/* block\n   over lines */ b\nc /* inline */ 2\n",
			[]string{"a 1", "b", "c 2"}},
		{"a comment spanning lines ends a statement", "a /*\n*/ b\n", []string{"a", "b"}},
		{"a comment on one line does not", "a /* x */ b\n", []string{"a b"}},
		{"value on the next line makes a flag", "a\n1\n", []string{"1", "a"}},
		{"brace on the next line still opens the block", "a\n{\nb 1\n}\nc x\n{\n}\n", []string{"a b 1", "c x"}},
		{"empty bodies", "interface eth0 { }\nvrrp {}", []string{"interface eth0", "vrrp"}},
		{"any layout", "  x   {   y\t1  \r\n  }\r\n", []string{"x y 1"}},
		{"byte order mark", "\uFEFFa 1", []string{"a 1"}},
		{"en dash and other UTF-8 in values", "address 10.0.0.1–10.0.0.9\ndescription café", []string{"address 10.0.0.1–10.0.0.9", "description café"}},
		{"empty file", "", nil},
		{"only comments", "/* nothing */\n# here\n", nil},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			tree, err := config.Parse("t.conf", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			got := tree.SetStyle()
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
