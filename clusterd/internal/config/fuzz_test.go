package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseService: any value either fails or gives a service whose
// canonical form reads back as the same resource; it never panics.
func FuzzParseService(f *testing.F) {
	for _, seed := range []string{
		"10.6.0.100/24/eth1", "10.6.0.100/24", "10.6.0.100/24/eth1/10.6.0.255", "10.6.0.100/24 eth1 10.6.0.255",
		"ipsec", "systemd:strongswan", "IPaddr2::10.0.0.1/24/eth0", "a::b::c", "::x", "x::", "1.2.3.4", "1.2.3.4/", "/24",
		"10.0.0.1/24/eth0/10.0.0.255/x", "10.0.0.1/024", "", " ", "1..2/3",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		s, err := ParseService(value)
		if err != nil {
			return
		}
		again, err := ParseService(s.String())
		if err != nil || !sameResource(s, again) || again.InterfaceDefaulted != s.InterfaceDefaulted {
			t.Fatalf("%q: canonical %q reads back as %+v, %v", value, s.String(), again, err)
		}
		switch s.Kind {
		case ServiceIP:
			if !s.Addr.Addr().Is4() || s.Addr.Bits() < 1 || s.Interface == "" || strings.ContainsAny(s.Interface, "/: ") {
				t.Fatalf("%q: bad IP service %+v", value, s)
			}
		case ServiceInit, ServiceScript:
			if s.Name == "" || strings.Contains(strings.TrimPrefix(s.Name, systemdPrefix), "/") {
				t.Fatalf("%q: bad script service %+v", value, s)
			}
		default:
			t.Fatalf("%q: kind %v", value, s.Kind)
		}
	})
}

// FuzzParse: any input either fails with diagnostics or gives a config
// that keeps the invariants the engine relies on; it never panics (the
// typed accessors panic on values the checks let through).
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.conf", "testdata/broken/*.conf"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Add([]byte(conf(with(top, "peer-address 10.0.0.2", "init-dead-interval 0"), with(group, `service "10.0.0.9/24 eth1"`, "service a::b"))))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("fuzz.conf", src)
		if err != nil || !c.Enabled {
			return
		}
		g := c.Group
		if g.Name == "" || g.Primary == "" || g.Primary == g.Secondary || len(g.Services) == 0 || len(c.Interfaces) == 0 ||
			c.Secret == "" || c.DeadInterval <= c.KeepaliveInterval || c.KeepaliveInterval <= 0 || !c.McastGroup.IsMulticast() || c.Port == 0 {
			t.Fatalf("invariant broken by\n%s\nconfig %+v", src, c)
		}
		ips := map[string]bool{}
		for _, s := range g.Services {
			if s.Kind == ServiceIP {
				if ips[s.Addr.Addr().String()] || s.Label == "" || len(s.Label) > maxLabel {
					t.Fatalf("bad IP service %+v from\n%s", s, src)
				}
				ips[s.Addr.Addr().String()] = true
			}
		}
		_ = c.Hash()
		_ = Diff(c, c)
	})
}
