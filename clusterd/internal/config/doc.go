// Package config is clusterd's configuration: the schema of the `cluster`
// subtree (spec clusterd.md section 1, CL-C01..C13), its commit errors
// (CL-E01..E06) and warnings, and the typed, validated result the engine
// runs from. The guide's Examples 3-4 and 3-5 paste in unchanged.
//
// Beyond the guide (each with the guide's behaviour as default):
//
//	cluster {
//	    init-dead-interval 120000   ms to wait at start for the peer's first
//	                                heartbeat before taking the resources
//	                                alone (the guide's fixed 120 s, CL-Q09)
//	    peer-address 192.0.2.2      unicast heartbeats to this address instead
//	                                of the multicast group (multi, CL-Q12)
//	    port 694                    heartbeat UDP port (CL-C11)
//	    group G {
//	        service "10.0.0.1/24 eth1 10.0.0.255"   the parameter table's
//	                                space-separated form, printed back as
//	                                10.0.0.1/24/eth1/10.0.0.255 (CL-Q01)
//	        service systemd:strongswan   a systemd unit outright (CL-Q03)
//	    }
//	}
//
// Our rules where the guide is silent: a `cluster` needs a group (it has
// nothing to do without one); node names are host names; the secret may
// not be empty and draws a warning under 16 characters; a cluster IP must
// be a host address of its subnet, with its broadcast address inside it,
// and its alias label (`eth0:0`) at most 15 characters.
//
// Load and Parse return a *Config; Diff classifies a reload (CL-B23) and
// Config.Hash fingerprints what both nodes must agree on (CL-B06). The
// package stays pure: whether scripts, units and interfaces exist, and the
// better interface for a service that names none (CL-Q02), are run-time
// checks of the daemon.
package config
