// Package config is ctsyncd's configuration: the schema of the
// `service conntrack-sync` subtree (spec ctsyncd.md section 1,
// CS-C01..C10), its commit errors (CS-E01..E04) and warnings, the typed,
// validated result the engine runs from, and Diff, which tells the engine
// what a reload changes (CS-B20). The guide's Examples 4-5 and 4-8 paste in
// with the braces of their failover-mechanism block restored (the guide
// prints it flattened and without them).
//
// The file holds `service { conntrack-sync { ... } }` and nothing else;
// without `conntrack-sync` synchronization is off (CS-C01).
//
// Beyond the guide (issue 5; each with a default that needs no setting):
//
//	service {
//	    conntrack-sync {
//	        peer 192.0.2.2            send to this address by unicast instead of
//	                                  to mcast-group (for links where
//	                                  multicast is unwanted)
//	        port 3780                 UDP port of the sync channel (conntrackd's)
//	        secret "a long secret"    HMAC key of every sync message; the
//	                                  same on both nodes; absent = messages
//	                                  are not authenticated
//	        keepalive-interval 1000   ms between keep-alives when idle
//	        dead-interval 5000        ms of silence before the peer is
//	                                  considered gone (its entries start to
//	                                  age, CS-B07)
//	    }
//	}
//
// Our rules where the guide is silent or wrong: mcast-group defaults to
// 225.0.0.50 and must be in 224.0.0.0/4 (the guide's 255.0.0.50 is a
// typo, CS-Q01); queue sizes are whole megabytes 1-1024; accept-protocol is
// one comma-separated value, spaces around the commas allowed when quoted;
// the `ipv4` level of ignore-address is kept (CS-Q05); the secret may not be
// empty and draws a warning under 16 characters, as clusterd's does;
// keepalive-interval must be shorter than dead-interval.
//
// The package stays pure: whether the interface exists, whether the
// failover producer has the named group, and whether the kernel helpers of
// expect-sync are loaded are run-time checks of the daemon (CS-C04,
// CS-C06).
package config
