package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: any input either fails with diagnostics or gives groups that
// keep the invariants the engine relies on; it never panics (the typed
// accessors panic on values the checks let through).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.conf")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(eth0(group("7", "version 3", "advertise-interval 0.1", "virtual-address 2001:db8::1", "peer-address 2001:db8::2")...)))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("fuzz.conf", src)
		if err != nil {
			return
		}
		for _, g := range c.Groups {
			if g.VRID == 0 || g.Priority == 0 || len(g.VIPs) == 0 || len(g.VIPs) > MaxVIPs || g.Interval <= 0 ||
				len(g.Interface) > maxIfName || len(g.VRRPInterface.Name) > maxIfName || g.RFC3768 != (g.VRRPInterface.Name != "") {
				t.Fatalf("invariant broken by\n%s\ngroup %+v", src, g)
			}
			if g.Version == 2 && (g.IPv6() || g.Interval%time.Second != 0) {
				t.Fatalf("version 2 group with IPv6 or a fractional interval from\n%s", src)
			}
		}
	})
}
