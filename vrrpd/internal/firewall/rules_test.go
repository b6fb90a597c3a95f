package firewall

import (
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

func render(rules []Rule) string {
	var lines []string
	for _, r := range rules {
		cmd := "iptables"
		if r.IPv6 {
			cmd = "ip6tables"
		}
		lines = append(lines, cmd+" -t raw -A VRRPD "+strings.Join(r.Spec, " "))
	}
	return strings.Join(lines, "\n")
}

func TestVR_B15_Rules(t *testing.T) {
	v4 := Group{Key: "eth0/99", VIPs: []netip.Prefix{netip.MustParsePrefix("172.16.0.24/24")}}
	v6 := Group{Key: "eth1/5", VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}}
	owner := Group{Key: "eth1/2", Owner: true, VIPs: v4.VIPs}
	tests := []struct {
		name string
		g    Group
		want string
	}{
		// The same rule serves backup and master: inert once the VIP
		// is local. RFC 3768 mode's vMAC drop is the kernel package's.
		{"a VIP is dropped unless local", v4,
			`iptables -t raw -A VRRPD -d 172.16.0.24/32 -m addrtype ! --dst-type LOCAL -m comment --comment vrrpd eth0/99 -j DROP`},
		{"IPv6 goes to ip6tables", v6,
			`ip6tables -t raw -A VRRPD -d 2001:db8::1/128 -m addrtype ! --dst-type LOCAL -m comment --comment vrrpd eth1/5 -j DROP`},
		{"the address owner drops nothing", owner, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(Rules(tt.g)); got != tt.want {
				t.Errorf("rules:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// fakeTables is one family's iptables as chains of rule strings.
type fakeTables struct {
	mu     sync.Mutex
	chains map[string][]string
}

func (f *fakeTables) chain(k string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.chains[k])
}

func newFakeTables() *fakeTables { return &fakeTables{chains: map[string][]string{}} }

func (f *fakeTables) ClearChain(table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chains[table+"/"+chain] = []string{}
	return nil
}

func (f *fakeTables) InsertUnique(table, chain string, _ int, spec ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, r := table+"/"+chain, strings.Join(spec, " ")
	if !slices.Contains(f.chains[k], r) {
		f.chains[k] = append([]string{r}, f.chains[k]...)
	}
	return nil
}

func (f *fakeTables) Append(table, chain string, spec ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := table + "/" + chain
	f.chains[k] = append(f.chains[k], strings.Join(spec, " "))
	return nil
}

func (f *fakeTables) DeleteIfExists(table, chain string, spec ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, r := table+"/"+chain, strings.Join(spec, " ")
	if i := slices.Index(f.chains[k], r); i >= 0 {
		f.chains[k] = slices.Delete(f.chains[k], i, i+1)
	}
	return nil
}

func (f *fakeTables) ClearAndDeleteChain(table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.chains, table+"/"+chain)
	return nil
}

func TestIptablesTransitions(t *testing.T) {
	v4, v6 := newFakeTables(), newFakeTables()
	f, err := open(discard(), v4, v6)
	if err != nil {
		t.Fatal(err)
	}
	g := Group{Key: "eth0/99", VIPs: []netip.Prefix{netip.MustParsePrefix("172.16.0.24/24")}}
	other := Group{Key: "eth1/7", VIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}
	f.Set(g)
	f.Set(other)
	f.Set(g)
	f.Remove(other.Key)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []*fakeTables{v4, v6} {
		if _, ok := tbl.chains["raw/VRRPD"]; ok {
			t.Errorf("Close left chain VRRPD: %v", tbl.chains)
		}
		if got := tbl.chains["raw/PREROUTING"]; len(got) != 0 {
			t.Errorf("Close left PREROUTING with %v", got)
		}
	}
}

func TestIptablesConvergesOnTheLatestState(t *testing.T) {
	v4 := newFakeTables()
	f, err := open(discard(), v4, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := v4.chains["raw/PREROUTING"]; !slices.Equal(got, []string{"-j VRRPD"}) {
		t.Errorf("PREROUTING = %v, want the jump to VRRPD", got)
	}
	// A reload changing the VIPs back and forth: the chain ends with the
	// latest ones, each once.
	one := Group{Key: "eth0/99", VIPs: []netip.Prefix{netip.MustParsePrefix("172.16.0.24/24")}}
	two := Group{Key: "eth0/99", VIPs: []netip.Prefix{netip.MustParsePrefix("172.16.0.24/24"), netip.MustParsePrefix("172.16.0.25/24")}}
	v6only := Group{Key: "eth1/5", VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}}
	for i := range 50 {
		if i%2 == 1 {
			f.Set(two)
		} else {
			f.Set(one)
		}
	}
	f.Set(v6only) // no ip6tables: skipped, no panic
	f.Set(two)
	f.Flush()
	var want []string
	for _, r := range Rules(two) {
		want = append(want, strings.Join(r.Spec, " "))
	}
	if got := v4.chain("raw/VRRPD"); !slices.Equal(got, want) {
		t.Errorf("VRRPD holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	f.Set(one)
	f.Remove(one.Key)
	f.Flush()
	if got := v4.chain("raw/VRRPD"); len(got) != 0 {
		t.Errorf("after Remove VRRPD holds %v", got)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
