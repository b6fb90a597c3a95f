package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParseProtocols: any value either fails or gives a sorted set of
// known protocols that its String reads back as; it never panics.
func FuzzParseProtocols(f *testing.F) {
	for _, seed := range []string{"tcp", "tcp,udp,sctp,icmp", " udp , tcp", "tcp,tcp", "", ",", "tcp,", "TCP", "gre", "tcp udp"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		l, _, err := ParseProtocols(value)
		if err != nil {
			return
		}
		if len(l) == 0 || !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
			t.Fatalf("%q: %v is not a sorted set", value, l)
		}
		again, dups, err := ParseProtocols(l.String())
		if err != nil || !slices.Equal(again, l) || len(dups) > 0 {
			t.Fatalf("%q: String %q reads back as %v, %v, %v", value, l.String(), again, dups, err)
		}
	})
}

// FuzzParse: any input either fails with diagnostics or gives a config
// that keeps the invariants the engine relies on; it never panics (the
// typed accessors and fromView panic on values the checks let through).
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
	f.Add([]byte(conf(with("peer 10.0.0.2", "expect-sync all", "expect-sync ftp", `accept-protocol "tcp, udp"`,
		"ignore-address { ipv4 10.1.2.3/24 }", "secret x", "keepalive-interval 100", "dead-interval 1000")...)))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("fuzz.conf", src)
		if err != nil || !c.Enabled {
			return
		}
		m := c.Mechanism
		if c.Interface == "" || m.Group == "" || m.Kind != MechanismVRRP && m.Kind != MechanismCluster || c.BusGroup() == "" ||
			!c.MulticastGroup.Is4() || !c.MulticastGroup.IsMulticast() || c.Port == 0 ||
			c.Peer.IsValid() && (!c.Peer.Is4() || c.Peer.IsMulticast()) ||
			c.EventQueueBytes < megabyte || c.EventQueueBytes > MaxQueueMB*megabyte ||
			c.SyncQueueBytes < megabyte || c.SyncQueueBytes > MaxQueueMB*megabyte ||
			c.Keepalive <= 0 || c.Dead <= c.Keepalive {
			t.Fatalf("invariant broken by\n%s\nconfig %+v", src, c)
		}
		if c.Protocols != nil && (len(c.Protocols) == 0 || !slices.IsSorted(c.Protocols)) {
			t.Fatalf("protocols %v from\n%s", c.Protocols, src)
		}
		for i, p := range c.Ignore {
			if !p.Addr().Is4() || p != p.Masked() || slices.Index(c.Ignore, p) != i {
				t.Fatalf("ignore %v from\n%s", c.Ignore, src)
			}
		}
		for i, h := range c.Expect {
			if j := slices.Index(ExpectHelpers, h); j < 0 || i > 0 && j <= slices.Index(ExpectHelpers, c.Expect[i-1]) {
				t.Fatalf("expect %v not in canonical order, from\n%s", c.Expect, src)
			}
		}
		if r := Diff(c, c); r.Action != ReloadNone {
			t.Fatalf("Diff of a config with itself: %+v", r)
		}
		if r := Diff(nil, c); r.Action != ReloadStart {
			t.Fatalf("Diff from nothing: %+v", r)
		}
	})
}
