package config

import "testing"

// TestCL_B06_Hash: the hash changes with what both nodes must share and
// only with that.
func TestCL_B06_Hash(t *testing.T) {
	base := conf(with(top, "keepalive-interval 1000"), with(group, "monitor 10.0.0.8", "monitor 10.0.0.9", "service ipsec"))
	h := mustParse(t, base).Hash()
	tests := []struct {
		name string
		src  string
		same bool
	}{
		{"same text", base, true},
		{"monitors in another order", conf(with(top, "keepalive-interval 1000"), with(group, "monitor 10.0.0.9", "monitor 10.0.0.8", "service ipsec")), true},
		{"default interface written out", conf(with(top, "keepalive-interval 1000"), []string{"primary R1", "secondary R2", "service 10.0.0.100/24", "monitor 10.0.0.8", "monitor 10.0.0.9", "service ipsec"}), true},
		{"secret differs", conf([]string{"interface eth0", `pre-shared-secret "another long secret"`, "keepalive-interval 1000"}, with(group, "monitor 10.0.0.8", "monitor 10.0.0.9", "service ipsec")), true},
		{"interfaces differ", conf([]string{"interface eth1", `pre-shared-secret "0123456789abcdef"`, "keepalive-interval 1000"}, with(group, "monitor 10.0.0.8", "monitor 10.0.0.9", "service ipsec")), true},
		{"peer and port differ", conf(with(top, "keepalive-interval 1000", "peer-address 10.0.0.2", "port 700", "init-dead-interval 5000"), with(group, "monitor 10.0.0.8", "monitor 10.0.0.9", "service ipsec")), true},
		{"a monitor less", conf(with(top, "keepalive-interval 1000"), with(group, "monitor 10.0.0.8", "service ipsec")), false},
		{"services reordered", conf(with(top, "keepalive-interval 1000"), []string{"primary R1", "secondary R2", "service ipsec", "monitor 10.0.0.8", "monitor 10.0.0.9", "service 10.0.0.100/24/eth0"}), false},
		{"keepalive differs", conf(top, with(group, "monitor 10.0.0.8", "monitor 10.0.0.9", "service ipsec")), false},
		{"auto-failback differs", conf(with(top, "keepalive-interval 1000"), with(group, "monitor 10.0.0.8", "monitor 10.0.0.9", "service ipsec", "auto-failback true")), false},
		{"roles swapped", conf(with(top, "keepalive-interval 1000"), []string{"primary R2", "secondary R1", "service 10.0.0.100/24/eth0", "monitor 10.0.0.8", "monitor 10.0.0.9", "service ipsec"}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			if same := c.Hash() == h; same != tt.same {
				t.Errorf("same hash = %v, want %v\n%s", same, tt.same, c.HashText())
			}
		})
	}
	if off := mustParse(t, "").Hash(); off == h {
		t.Error("a disabled configuration hashes like an enabled one")
	}
	if got := len(h.String()); got != 64 {
		t.Errorf("hex hash has %d digits", got)
	}
}
