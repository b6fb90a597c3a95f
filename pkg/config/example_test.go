package config_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/hasuite/hasuite/pkg/config"
)

var exampleSchema = config.MustSchema(
	config.Container("cluster",
		config.Leaf("dead-interval", config.Duration(time.Millisecond, time.Second, time.Hour), config.Default("20000")),
		config.Tag("group", config.Pattern(`[A-Za-z0-9_.-]{1,64}`, "a group name"),
			config.Leaf("auto-failback", config.Bool(), config.Default("false")),
			config.Leaf("monitor", config.IPv4(), config.Multi()),
			config.Leaf("primary", config.String(), config.Required()),
		),
		config.Leaf("interface", config.IfName(), config.Multi(), config.Required()),
	),
)

func ExampleSchema_Load() {
	src := []byte(`cluster { group cluster1 { primary R1 monitor 96.97.98.99 monitor 10.6.0.55 } interface eth0 }`)
	cfg, err := exampleSchema.Load("clusterd.conf", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	cluster := cfg.Root().Child("cluster")
	fmt.Println("dead after", cluster.Duration("dead-interval"))
	for _, g := range cluster.Instances("group") {
		fmt.Println(g.Tag(), g.String("primary"), g.Addrs("monitor"), g.Bool("auto-failback"))
	}
	fmt.Print(cfg.Tree())
	// Output:
	// dead after 20s
	// cluster1 R1 [96.97.98.99 10.6.0.55] false
	// cluster {
	//     group cluster1 {
	//         monitor 96.97.98.99
	//         monitor 10.6.0.55
	//         primary R1
	//     }
	//     interface eth0
	// }
}

func ExampleSchema_Validate() {
	tree, err := exampleSchema.Parse("clusterd.conf", []byte("cluster {\n    dead-inteval 2000\n    dead-interval 500\n}\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = exampleSchema.Validate(tree)
	fmt.Println(err)
	var d *config.Diagnostic
	if errors.As(err, &d) {
		fmt.Printf("first at line %d, column %d, path %s\n", d.Line, d.Col, d.Path)
	}
	// Output:
	// clusterd.conf:1:1: cluster: interface is required (interface name)
	// clusterd.conf:2:5: cluster dead-inteval: unknown node (did you mean dead-interval?)
	// clusterd.conf:3:19: cluster dead-interval: 500 out of range 1000-3600000 milliseconds
	// first at line 1, column 1, path cluster
}

func ExampleDiff() {
	const file = "interfaces {\n ethernet eth0 {\n  vrrp {\n   vrrp-group 99 {\n    priority %d\n   }\n  }\n }\n}\n"
	r1, _ := config.Parse("r1.conf", fmt.Appendf(nil, file, 150))
	r2, _ := config.Parse("r2.conf", fmt.Appendf(nil, file, 20))
	changes := config.Diff(r1, r2)
	fmt.Println(changes)
	fmt.Println(changes.Touches(config.MustPath("interfaces ethernet eth0 vrrp vrrp-group 99")))
	fmt.Println(changes.Touches(config.MustPath("interfaces ethernet eth0 vrrp vrrp-group 100")))
	// Output:
	// ~ interfaces ethernet eth0 vrrp vrrp-group 99 priority 150 -> 20
	// true
	// false
}

func ExampleTree_SetStyle() {
	tree, _ := config.Parse("wlbd.conf", []byte("load-balancing {\n    wan {\n        rule 5 {\n            exclude\n            inbound-interface eth+\n        }\n    }\n}\n"))
	for _, line := range tree.SetStyle() {
		fmt.Println(line)
	}
	// Output:
	// load-balancing wan rule 5 exclude
	// load-balancing wan rule 5 inbound-interface eth+
}
