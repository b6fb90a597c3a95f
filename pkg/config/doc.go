// Package config reads, checks, edits, compares and prints hasuite's
// configuration files, written in the Vyatta curly-brace syntax of the High
// Availability Reference Guide, so that an administrator can paste the
// guide's examples. Each daemon's file holds its own subtree
// (`interfaces ... vrrp` for vrrpd, `cluster` for clusterd, and so on).
//
// # Syntax
//
//	interfaces {                           /* comments like this, */
//	    ethernet eth0 {                    # or like this
//	        vrrp {
//	            vrrp-group 99 {            tag node with its tag value
//	                priority 150           leaf
//	                rfc3768-compatibility  flag
//	                virtual-address 172.16.0.24/24
//	                virtual-address 172.16.0.25   repeated leaf: a list, in order
//	                description "R1 and R2 \"core\""
//	            }
//	        }
//	    }
//	}
//
// Any layout is accepted, including the guide's displays flattened onto one
// line (`vrrp-group 99 { preempt true priority 150 rfc3768-compatibility
// virtual-address 172.16.0.24/24 }`). Values may contain any character but
// white space, braces and double quotes; quote them otherwise ("" for an
// empty value; the escapes are \" \\ \n \t). Comments start only where a
// word could start, so `x#1` is a value. `name: value` is an error that
// says to drop the colon.
//
// A bare word alone cannot tell a flag from a leaf, so Schema.Parse, which
// knows the flags, is what daemons use. The package-level Parse needs no
// schema and decides by layout: a line break ends a statement, so `name`
// alone on a line is a flag and `name value` a leaf. In text flattened onto
// one line it pairs words up as `name value`, which is right for canonical
// files (cfgsyncd reads other daemons' files this way) but not for the
// guide's flattened displays.
//
// Containers and tag instances written twice merge. A leaf written twice
// keeps both values; the schema then refuses that unless the leaf is Multi.
//
// # Trees
//
// A Tree holds Nodes in canonical order: children sorted by name and tag
// instances by value, with digit runs compared as numbers (rule 5 before
// rule 10, eth2 before eth10); the values of a leaf stay in the order
// written. Paths address nodes word by word, the Vyatta way: tag nodes are
// followed by their value ("interfaces ethernet eth0 vrrp vrrp-group 99").
// Tree.Get, List, Set (Vyatta's `set`, which needs the schema to know the
// kinds of the nodes it creates), Delete and Replace (copy a subtree from
// another tree, as configuration sync does) work on paths.
//
// Tree.Format prints the canonical text: four spaces per level, one
// statement per line, values quoted only when they must be, an empty block
// as `name value {` and `}`. Parsing it gives an equal tree and formatting
// is idempotent. Tree.SetStyle prints one line per value
// ("interfaces ethernet eth0 vrrp vrrp-group 99 priority 150"). Diff lists
// the changes between two trees in the same form, and Changes.Touches
// tells a daemon on reload whether a subtree (one VRRP group) changed.
//
// # Schemas
//
// Each daemon declares its subtree; the declaration reads like the file:
//
//	var schema = config.MustSchema(
//		config.Container("cluster",
//			config.Leaf("dead-interval", config.Duration(time.Millisecond, time.Second, time.Hour),
//				config.Default("20000"), config.Help("peer declared dead after this long")),
//			config.Tag("group", config.Pattern(`[A-Za-z0-9_.-]{1,64}`, "a group name"),
//				config.Leaf("auto-failback", config.Bool(), config.Default("false")),
//				config.Leaf("monitor", config.IPv4(), config.Multi()),
//				config.Leaf("primary", config.String(), config.Required()),
//			),
//			config.Leaf("interface", config.IfName(), config.Multi(), config.Required()),
//			config.Check(func(c config.View, r *config.Report) {
//				if len(c.Instances("group")) > 1 {
//					r.Errorf(c.Child("group"), "only one group is supported")
//				}
//			}),
//		),
//	)
//
// Schema.Load parses a file with the schema and validates it. Validation
// returns every error, each a *Diagnostic with the file, line, column and
// path, printed as
//
//	clusterd.conf:2:5: cluster dead-inteval: unknown node (did you mean dead-interval?)
//
// and warnings (ignored nodes, deprecated aliases, duplicate values)
// separately. The resulting Config gives typed access with the schema's
// defaults applied:
//
//	cfg, err := schema.Load("clusterd.conf", src)
//	if err != nil {
//		return err // Diagnostics; errors.As finds each *config.Diagnostic
//	}
//	cluster := cfg.Root().Child("cluster")
//	deadAfter := cluster.Duration("dead-interval") // 20s unless written
//	for _, g := range cluster.Instances("group") {
//		fmt.Println(g.Tag(), g.Addrs("monitor"), g.Bool("auto-failback"))
//	}
package config
