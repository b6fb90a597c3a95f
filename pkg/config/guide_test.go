package config_test

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// guideExamples lists every file of testdata/guide (TestGuideExamplesListed
// keeps the list complete). flat marks the examples the guide prints
// flattened on one line, which only a schema can read right. wantErrors are
// the validation errors under guideSchema, as "line:col: message" (the file
// name left out).
var guideExamples = []struct {
	file       string
	flat       bool
	wantErrors []string
}{
	{file: "example-1-1-static-routes.conf", flat: true},
	{file: "example-1-2-wlb-basic.conf"},
	{file: "example-1-3-wlb-failover-weights.conf"},
	{file: "example-1-4-wlb-failover-rule-order.conf"},
	{file: "example-1-5-static-default-route.conf", flat: true},
	{file: "example-1-5-wlb-priority-traffic.conf", flat: true},
	{file: "example-1-6-wlb-second-source.conf", flat: true},
	{file: "example-1-7-wlb-exclude-lans.conf", flat: true},
	{file: "example-1-8-wlb-complete.conf"},
	{file: "example-2-1-vrrp-master.conf", flat: true},
	{file: "example-2-2-vrrp-backup.conf"},
	{file: "example-2-3-vrrp-sync-group-master.conf", flat: true},
	{file: "example-2-4-vrrp-sync-group-backup.conf", flat: true},
	{file: "example-2-5-eth1-initial.conf", flat: true},
	{file: "example-2-5-vrrp-address-owner.conf"},
	{file: "example-3-1-vpn-r1.conf"},
	{file: "example-3-2-vpn-r2.conf"},
	{file: "example-3-3-vpn-vpnpeer.conf"},
	{file: "example-3-4-cluster-r1.conf"},
	{file: "example-3-5-cluster-r2.conf", flat: true},
	{file: "example-4-1-firewall.conf"},
	{file: "example-4-2-ethernet-r1.conf"},
	{file: "example-4-3-ethernet-r2.conf"},
	{file: "example-4-4-cluster.conf", wantErrors: []string{
		"9:1: cluster dead-inteval: unknown node (did you mean dead-interval?)",
		"11:3: cluster group TEST auto-fallback: unknown node (did you mean auto-failback?)",
	}},
	{file: "example-4-4-cluster-corrected.conf"},
	{file: "example-4-5-conntrack-sync-cluster.conf", flat: true},
	{file: "example-4-6-vrrp-r1.conf"},
	{file: "example-4-7-vrrp-r2.conf"},
	{file: "example-4-8-conntrack-sync-vrrp.conf", flat: true},
	{file: "example-4-9-nat.conf"},
	{file: "example-6-1-config-sync.conf", flat: true},
	{file: "example-6-2-config-r1.conf", wantErrors: []string{
		"9:3: cluster dead-inteval: unknown node (did you mean dead-interval?)",
		"11:5: cluster group MAIN auto-fallback: unknown node (did you mean auto-failback?)",
	}},
	{file: "example-6-2-config-r1-corrected.conf"},
	{file: "example-6-3-config-r2.conf", wantErrors: []string{
		"8:5: cluster dead-inteval: unknown node (did you mean dead-interval?)",
		"10:9: cluster group MAIN auto-fallback: unknown node (did you mean auto-failback?)",
	}},
	{file: "example-6-3-config-r2-corrected.conf"},
	{file: "example-6-7-remote-configuration.conf", wantErrors: []string{
		"9:3: cluster dead-inteval: unknown node (did you mean dead-interval?)",
		"11:5: cluster group MAIN auto-fallback: unknown node (did you mean auto-failback?)",
	}},
	{file: "example-6-7-remote-configuration-corrected.conf"},
}

const guideDir = "testdata/guide"

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readFile(t, golden)
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the printed tree (run go test ./pkg/config -update to accept):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// errorsWithoutFile formats diagnostics as "line:col: path: msg".
func errorsWithoutFile(err error) []string {
	var ds config.Diagnostics
	if !errors.As(err, &ds) {
		return nil
	}
	var out []string
	for _, d := range ds {
		d := *d
		d.File = ""
		out = append(out, d.Error())
	}
	return out
}

func TestGuideExamplesListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(guideDir, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, ex := range guideExamples {
		listed = append(listed, filepath.Join(guideDir, ex.file))
	}
	slices.Sort(listed)
	if !slices.Equal(files, listed) {
		t.Errorf("guideExamples and %s differ:\nfiles:  %q\nlisted: %q", guideDir, files, listed)
	}
}

func TestGuideExamples(t *testing.T) {
	for _, ex := range guideExamples {
		t.Run(strings.TrimSuffix(ex.file, ".conf"), func(t *testing.T) {
			path := filepath.Join(guideDir, ex.file)
			src := readFile(t, path)
			tree, err := guideSchema.Parse(ex.file, src)
			if err != nil {
				t.Fatalf("schema-guided parse: %v", err)
			}
			printed := tree.Format()
			checkGolden(t, strings.TrimSuffix(path, ".conf")+".golden", printed)

			// Round trip, both ways of parsing the canonical text.
			for name, parse := range map[string]func(string, []byte) (*config.Tree, error){
				"layout-guided": config.Parse, "schema-guided": guideSchema.Parse,
			} {
				again, err := parse("printed", printed)
				if err != nil {
					t.Fatalf("%s parse of the printed tree: %v\n%s", name, err, printed)
				}
				if !again.Equal(tree) {
					t.Errorf("%s parse of the printed tree differs:\n%s", name, again.Format())
				}
				if !bytes.Equal(again.Format(), printed) {
					t.Errorf("printing is not idempotent (%s)", name)
				}
			}

			// Multi-line examples need no schema to be read right.
			layout, err := config.Parse(ex.file, src)
			if err != nil {
				t.Fatalf("layout-guided parse: %v", err)
			}
			if !ex.flat && !layout.Equal(tree) {
				t.Errorf("layout-guided parse differs from schema-guided:\n%s", layout.Format())
			}

			_, err = guideSchema.Validate(tree)
			if got := errorsWithoutFile(err); !slices.Equal(got, ex.wantErrors) {
				t.Errorf("validation errors:\ngot  %q\nwant %q", got, ex.wantErrors)
			}
		})
	}
}

// TestGuideBrokenExamples: the displays as printed, damaged by the PDF
// extraction or by the guide's typos, fail with an error that says where
// and what to do.
func TestGuideBrokenExamples(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string
	}{
		{"example-3-1-vpn-r1.conf", "example-3-1-vpn-r1.conf:53:1: unexpected '}' (no block is open here)"},
		{"example-3-2-vpn-r2.conf", "example-3-2-vpn-r2.conf:53:1: unexpected '}' (no block is open here)"},
		{"example-3-5-cluster-r2.conf", `example-3-5-cluster-r2.conf:7:252: cluster: unexpected ':' after pre-shared-secret (write ` + "`pre-shared-secret VALUE`)"},
		{"example-4-1-firewall.conf", "example-4-1-firewall.conf:30:3: unexpected '}' (no block is open here)"},
		{"example-4-2-ethernet-r1.conf", "example-4-2-ethernet-r1.conf:27:1: unexpected '}' (no block is open here)"},
		{"example-6-2-config-r1.conf", "example-6-2-config-r1.conf:142:1: unexpected '}' (no block is open here)"},
		{"example-6-3-config-r2.conf", "example-6-3-config-r2.conf:68:9: service: missing '}': the block opened here is never closed"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src := readFile(t, filepath.Join(guideDir, "broken", tc.file))
			for name, parse := range map[string]func(string, []byte) (*config.Tree, error){
				"layout-guided": config.Parse, "schema-guided": guideSchema.Parse,
			} {
				_, err := parse(tc.file, src)
				if err == nil || err.Error() != tc.want {
					t.Errorf("%s: got error\n%v\nwant\n%s", name, err, tc.want)
				}
				var d *config.Diagnostic
				if !errors.As(err, &d) {
					t.Errorf("%s: %v is not a *config.Diagnostic", name, err)
				}
			}
		})
	}
}

func loadGuide(t *testing.T, file string) *config.Tree {
	t.Helper()
	tree, err := guideSchema.Parse(file, readFile(t, filepath.Join(guideDir, file)))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestGuideDiffs diffs the configurations the guide gives for two routers,
// or for two steps of one example.
func TestGuideDiffs(t *testing.T) {
	for _, tc := range []struct {
		old, new string
		want     []string
	}{
		{"example-2-1-vrrp-master.conf", "example-2-2-vrrp-backup.conf", []string{
			"~ interfaces ethernet eth0 vrrp vrrp-group 99 priority 150 -> 20",
		}},
		{"example-2-3-vrrp-sync-group-master.conf", "example-2-4-vrrp-sync-group-backup.conf", []string{
			"~ interfaces ethernet eth0 vrrp vrrp-group 99 priority 150 -> 20",
			"~ interfaces ethernet eth1 vrrp vrrp-group 101 priority 150 -> 20",
		}},
		{"example-2-1-vrrp-master.conf", "example-2-3-vrrp-sync-group-master.conf", []string{
			"+ interfaces ethernet eth0 vrrp vrrp-group 99 interface",
			"- interfaces ethernet eth0 vrrp vrrp-group 99 rfc3768-compatibility",
			"+ interfaces ethernet eth0 vrrp vrrp-group 99 sync-group ALPHA",
			"+ interfaces ethernet eth1 vrrp vrrp-group 101 preempt true",
			"+ interfaces ethernet eth1 vrrp vrrp-group 101 priority 150",
			"+ interfaces ethernet eth1 vrrp vrrp-group 101 rfc3768-compatibility",
			"+ interfaces ethernet eth1 vrrp vrrp-group 101 sync-group ALPHA",
			"+ interfaces ethernet eth1 vrrp vrrp-group 101 virtual-address 172.16.30.24/24",
		}},
		{"example-4-6-vrrp-r1.conf", "example-4-7-vrrp-r2.conf", []string{
			"~ interfaces ethernet eth0 vrrp vrrp-group 1 priority 200 -> 100",
			"~ interfaces ethernet eth2 vrrp vrrp-group 2 priority 200 -> 100",
		}},
		{"example-1-2-wlb-basic.conf", "example-1-3-wlb-failover-weights.conf", []string{
			"+ load-balancing wan rule 10 failover",
			"- load-balancing wan rule 10 interface eth0",
			"+ load-balancing wan rule 10 interface eth0 weight 10",
			"- load-balancing wan rule 10 interface eth1",
			"+ load-balancing wan rule 10 interface eth1 weight 1",
		}},
		{"example-1-4-wlb-failover-rule-order.conf", "example-1-8-wlb-complete.conf", []string{
			"+ load-balancing wan rule 5 destination address 10.0.0.0/8",
			"+ load-balancing wan rule 5 exclude",
			"+ load-balancing wan rule 5 inbound-interface eth+",
			"+ load-balancing wan rule 10 interface eth1",
			"~ load-balancing wan rule 20 inbound-interface eth3 -> eth4",
			"+ load-balancing wan rule 20 interface eth0",
		}},
		{"example-3-4-cluster-r1.conf", "example-3-5-cluster-r2.conf", nil},
		{"example-4-2-ethernet-r1.conf", "example-4-3-ethernet-r2.conf", []string{
			"~ interfaces ethernet eth0 address 12.34.56.128/24 -> 12.34.56.200/24",
			"~ interfaces ethernet eth1 address 192.168.0.128/24 -> 192.168.0.200/24",
			"~ interfaces ethernet eth2 address 172.16.0.128/24 -> 172.16.0.200/24",
		}},
		{"example-4-4-cluster.conf", "example-4-4-cluster-corrected.conf", []string{
			"+ cluster dead-interval 2000",
			"- cluster dead-inteval 2000",
			"+ cluster group TEST auto-failback true",
			"- cluster group TEST auto-fallback true",
		}},
	} {
		t.Run(tc.old+"->"+tc.new, func(t *testing.T) {
			changes := config.Diff(loadGuide(t, tc.old), loadGuide(t, tc.new))
			var got []string
			for _, c := range changes {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("diff:\ngot\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestGuideConfigSyncLocations plays Example 6-2's sync-map the way
// cfgsyncd will: every location resolves in R1's tree, and copying the
// included subtrees onto R2's tree makes them equal there.
func TestGuideConfigSyncLocations(t *testing.T) {
	r1 := loadGuide(t, "example-6-2-config-r1-corrected.conf")
	r2 := loadGuide(t, "example-6-3-config-r2-corrected.conf")
	rules := r1.Get(config.MustPath("system config-sync sync-map FW-NAT-CLUS rule"))
	if rules == nil {
		t.Fatal("sync-map FW-NAT-CLUS has no rules")
	}
	var locations []config.Path
	for _, rule := range rules.Children() {
		loc, err := config.ParsePath(rule.Child("location").Value())
		if err != nil {
			t.Fatal(err)
		}
		if r1.Get(loc) == nil {
			t.Errorf("location %s does not exist in R1's configuration", loc)
		}
		locations = append(locations, loc)
	}
	wantLocations := []string{"firewall", "interfaces ethernet eth0 firewall", "interfaces ethernet eth2 firewall", `service nat`, "cluster"}
	var got []string
	for _, l := range locations {
		got = append(got, l.String())
	}
	if !slices.Equal(got, wantLocations) {
		t.Errorf("locations %q, want %q", got, wantLocations)
	}

	before := config.Diff(r1, r2)
	for _, loc := range locations {
		if err := r2.Replace(loc, r1); err != nil {
			t.Fatal(err)
		}
		if !r2.Get(loc).Equal(r1.Get(loc)) {
			t.Errorf("after Replace, %s differs", loc)
		}
	}
	// What remains different is what the map does not include.
	after := config.Diff(r1, r2)
	for _, loc := range locations {
		if after.Touches(loc) {
			t.Errorf("%s still differs: %s", loc, after.Under(loc))
		}
	}
	if len(after) != len(before) || !after.Touches(config.MustPath("system host-name")) {
		t.Errorf("changes outside the sync-map should remain, got:\n%s", after)
	}
}

// TestGuideTypedValues reads the guide's examples through the typed view,
// defaults included.
func TestGuideTypedValues(t *testing.T) {
	load := func(file string) config.View {
		t.Helper()
		cfg, err := guideSchema.LoadTree(loadGuide(t, file))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Root()
	}

	cluster := load("example-3-4-cluster-r1.conf").Child("cluster")
	groups := cluster.Instances("group")
	if len(groups) != 1 || groups[0].Tag() != "cluster1" {
		t.Fatalf("groups: %v", groups)
	}
	g := groups[0]
	checkEqual(t, "dead-interval", cluster.Duration("dead-interval"), 10*time.Second)
	checkEqual(t, "keepalive-interval", cluster.Duration("keepalive-interval"), 2*time.Second)
	checkEqual(t, "monitor-dead-interval (default)", cluster.Duration("monitor-dead-interval"), 20*time.Second)
	checkEqual(t, "mcast-group (default)", cluster.Addr("mcast-group"), netip.MustParseAddr("239.251.252.253"))
	checkEqual(t, "pre-shared-secret", cluster.String("pre-shared-secret"), "!secret!")
	checkSlice(t, "interfaces", cluster.Strings("interface"), []string{"eth0", "eth1"})
	checkSlice(t, "monitors in order", g.Addrs("monitor"), []netip.Addr{netip.MustParseAddr("96.97.98.99"), netip.MustParseAddr("10.6.0.55")})
	checkSlice(t, "services in order", g.Strings("service"), []string{"10.6.0.100/24/eth1", "12.34.56.78/24/eth0", "ipsec"})
	checkEqual(t, "auto-failback (default)", g.Bool("auto-failback"), false)

	vrrp := load("example-2-1-vrrp-master.conf").Child("interfaces").Instances("ethernet")[0].Child("vrrp")
	group := vrrp.Instances("vrrp-group")[0]
	checkEqual(t, "vrrp-group", group.Tag(), "99")
	checkEqual(t, "priority", group.Int("priority"), int64(150))
	checkEqual(t, "preempt", group.Bool("preempt"), true)
	checkEqual(t, "advertise-interval (default)", group.Duration("advertise-interval"), time.Second)
	checkEqual(t, "rfc3768-compatibility", group.Has("rfc3768-compatibility"), true)
	checkEqual(t, "disable", group.Has("disable"), false)
	checkSlice(t, "virtual-address", group.Prefixes("virtual-address"), []netip.Prefix{netip.MustParsePrefix("172.16.0.24/24")})
	checkEqual(t, "no authentication", group.Child("authentication").Exists(), false)
	checkEqual(t, "authentication type (absent)", group.Child("authentication").String("type"), "")

	owner := load("example-4-6-vrrp-r1.conf").Child("interfaces").Instances("ethernet")[1]
	checkEqual(t, "ethernet order", owner.Tag(), "eth2")
	checkSlice(t, "VIP without /len", owner.Child("vrrp").Instances("vrrp-group")[0].Prefixes("virtual-address"),
		[]netip.Prefix{netip.MustParsePrefix("172.16.0.100/32")})

	wan := load("example-1-8-wlb-complete.conf").Child("load-balancing").Child("wan")
	rules := wan.Instances("rule")
	var numbers []string
	for _, r := range rules {
		numbers = append(numbers, r.Tag())
	}
	checkSlice(t, "rules in numeric order", numbers, []string{"5", "10", "20"})
	dest := rules[0].Child("destination").AddressSpec("address")
	checkEqual(t, "rule 5 matches 10.1.2.3", dest.Contains(netip.MustParseAddr("10.1.2.3")), true)
	checkEqual(t, "rule 5 skips 11.1.2.3", dest.Contains(netip.MustParseAddr("11.1.2.3")), false)
	checkEqual(t, "rule 5 exclude", rules[0].Has("exclude"), true)
	checkEqual(t, "rule 5 inbound-interface", rules[0].String("inbound-interface"), "eth+")
	checkEqual(t, "weight (default)", rules[1].Instances("interface")[0].Int("weight"), int64(1))
	health := wan.Instances("interface-health")[0]
	checkEqual(t, "failure-count", health.Int("failure-count"), int64(5))
	checkEqual(t, "success-count (default)", health.Int("success-count"), int64(1))
	checkEqual(t, "test type", health.Instances("test")[0].String("type"), "ping")

	sip := load("example-1-5-wlb-priority-traffic.conf").Child("load-balancing").Child("wan").Instances("rule")[1]
	ports := sip.Child("destination").Ports("port")
	checkEqual(t, "port sip", ports.String(), "5060")
	checkEqual(t, "protocol", sip.String("protocol"), "tcp")

	mech := load("example-4-5-conntrack-sync-cluster.conf").Child("service").Child("conntrack-sync")
	checkEqual(t, "failover group", mech.Child("failover-mechanism").Child("cluster").String("group"), "TEST")
	checkEqual(t, "no vrrp mechanism", mech.Child("failover-mechanism").Has("vrrp"), false)
	checkEqual(t, "mcast-group default (CS-Q01)", mech.Addr("mcast-group"), netip.MustParseAddr("225.0.0.50"))
}

func checkEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func checkSlice[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// BenchmarkParse measures reading the guide's largest example repeated to
// the size of a big router configuration.
func BenchmarkParse(b *testing.B) {
	one := readFile(b, filepath.Join(guideDir, "example-6-2-config-r1-corrected.conf"))
	tree, err := config.Parse("one", one)
	if err != nil {
		b.Fatal(err)
	}
	// Give every copy its own names so the tree grows instead of merging.
	var src bytes.Buffer
	for i := range 200 {
		src.WriteString(strings.ReplaceAll(tree.String(), "cluster {", "cluster"+strconv.Itoa(i)+" {"))
	}
	b.SetBytes(int64(src.Len()))
	b.ResetTimer()
	for b.Loop() {
		if _, err := guideSchema.Parse("big", src.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
