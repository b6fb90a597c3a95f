// Package config is vrrpd's configuration: the schema of its subtree
// (`interfaces ethernet|bonding IF [vif N] vrrp vrrp-group G { ... }`, spec
// vrrpd.md section 1) and the typed, validated result the engine runs from.
//
// The file holds the guide's syntax, so its examples paste in unchanged.
// Settings of an interface that are not VRRP (`duplex`, `hw-id`, `address`,
// ...) are ignored with a warning, since the same display often carries them.
//
// Beyond the guide (each with the guide's behaviour as default):
//
//	vrrp-group 99 {
//	    version 3                    2 (RFC 3768, default) or 3 (RFC 5798)
//	    advertise-interval 0.1       v2: integer seconds 1-255; v3: seconds
//	                                 0.01-40.95 in centiseconds
//	    virtual-address 2001:db8::1  IPv6 virtual addresses need version 3
//	    peer-address 192.0.2.2       unicast adverts to these peers (multi)
//	    checksum rfc9568             v3 checksum: rfc9568 (default),
//	                                 without-pseudo-header (IPv4 peers that
//	                                 checksum as in v2) or
//	                                 multicast-pseudo-header (older keepalived
//	                                 with unicast peers)
//	    garp {                       gratuitous ARP (unsolicited NA for IPv6)
//	        master-delay 5           sent by a new master: a burst of
//	        master-repeat 5          master-repeat at once, another
//	        master-refresh 60        master-delay seconds later (keepalived's
//	        master-refresh-repeat 1  defaults), then master-refresh-repeat
//	    }                            every master-refresh seconds while master
//	                                 (0 = never, keepalived's default, which
//	                                 leaves a stale switch or ARP cache stale)
//	    gate-deadline 1              how long the takeover waits for the bus's
//	                                 gates before adding the VIPs (500ms works)
//	    interface { name ev99 }      a VRRP interface name shorter than the
//	                                 derived one (VR-Q09)
//	}
//
// Load and Parse return a *Config; Diff compares two of them on reload so
// that an unchanged group keeps its state. This package stays pure: whether
// transition scripts exist is checked by the daemon (Config.Scripts lists
// them), and whether interfaces and hello source addresses exist is a runtime
// matter (the group goes to FAULT).
package config
