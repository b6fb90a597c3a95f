// Package resources starts, stops and checks the resources of a cluster
// group (guide chapter 3): cluster IPs, init scripts or systemd units, and
// resource.d scripts, as one ordered list (CL-B03, CL-B13..B18, CL-Q15).
//
// A [Group] holds the resolved services in configuration order. Start
// starts them in order and, when one fails, stops the ones already started
// in reverse order and returns a [StartError] naming the service and its
// output (CL-B14). Stop stops them in reverse order, going on past failures
// and timeouts, and always removes the cluster IPs, so that the peer can
// take them (CL-Q15). Reconcile applies a reload without touching unchanged
// services (CL-B23). State is what `show cluster status` reads.
//
// The side effects sit behind two small interfaces: [Kernel] for addresses
// and gratuitous ARP ([Netlink] is the real one, bound to a network
// namespace; [FakeKernel] renders its state as `ip addr` lines) and
// [ScriptRunner] for scripts (*hook.Runner).
//
// Ownership of cluster IPs (CL-B17). An address is clusterd's when the
// [Ledger], a small state file in --state-dir, records it on that interface
// with that alias label, and the kernel shows it with that label. The
// ledger is written before the address is added and cleared after it is
// removed, so a clusterd killed in between finds its leftovers at the next
// start ([Group.Cleanup]). An address that is present but not recorded was
// added by someone else: starting the service fails with [ErrNotOurs]
// instead of adopting it. The kernel has no free per-address mark to use
// instead: IFA_PROTO exists since Linux 6.1 but vishvananda/netlink v1.3.1
// cannot set it, and a flag such as IFA_F_NOPREFIXROUTE would change how
// the address routes.
package resources
