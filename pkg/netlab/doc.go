// Package netlab builds network topologies out of Linux network namespaces for
// tests and for the hands-on lab, and tears them down again, always.
//
// A [Topology] is plain data: nodes (each a named network namespace, so
// `ip netns exec <prefix>-<node> ...` works for humans), bridges, the
// interfaces that plug the nodes into bridges or join two nodes directly,
// addresses, routes and sysctls. [New] realises one for a test and registers
// its teardown with t.Cleanup; [Build] does the same for a program.
//
// Bridges live in a dedicated switch namespace (<prefix>-switch). Every
// interface plugged into a bridge is one end of a veth pair whose other end,
// the bridge port, is named <node>-<interface> there. Downing that port
// ([Node.CutPort]) is a pulled cable: the node keeps running and sees its
// carrier go, the other nodes on the bridge see nothing but silence.
//
// Nothing is ever created in the caller's own namespace: deleting a lab's
// namespaces removes every link of it. Each lab is recorded in
// /run/hasuite-netlab/<prefix> with its owner's PID, so [Sweep] can remove the
// leftovers of crashed runs without touching the labs of tests running
// concurrently in other packages.
//
// Tests wait only through [WaitFor] (or [Poll]): a condition polled with a
// short interval until it holds or a deadline passes, reporting the last
// status it saw.
//
// Everything here needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_NET_RAW) and
// Linux; [RequirePrivileged] skips a test that cannot have them, or fails it
// when HASUITE_REQUIRE_PRIVILEGED=1 says skipping is not acceptable.
package netlab
