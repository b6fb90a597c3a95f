// Package kernel is vrrpd's narrow view of the Linux network stack: the VRRP
// (vMAC) interfaces of RFC 3768 mode, the virtual addresses, the state of the
// interfaces a group runs on, and the link and address events that drive
// FAULT (VR-B30). [Kernel] is the interface the engine uses; [Netlink] is the
// real implementation, bound to one network namespace, and [Fake] keeps the
// same state in memory for table tests. [Render] prints either as `ip`
// (and `tc` and `nft`) command lines, so a test compares states as text.
//
// # VRRP interfaces (VR-B18, VR-B19, VR-B40)
//
// A VRRP interface is a macvlan on the group's interface with the virtual
// MAC 00:00:5e:00:01:<VRID> (00:00:5e:00:02:<VRID> for IPv6, RFC 5798 §7.3).
// Its mode is private, as keepalived's use_vmac: two VRRP interfaces on one
// parent must not hand each other frames, or a backup's macvlan would hear
// the master's vMAC traffic locally; private mode also keeps the macvlan
// from reflecting broadcasts back to its siblings.
//
// keepalived's vrrp_if_config.c sets sysctls so that ARP for a VIP is
// answered with the vMAC and only by the macvlan, and this package applies
// the same ones:
//   - on the macvlan: arp_ignore=1 (answer only for addresses on the
//     receiving interface), accept_local=1 (accept packets whose source is a
//     local address, as our own adverts looped through the parent are),
//     rp_filter=0 (the reverse path of a VIP's peers is the parent, so strict
//     filtering would drop them) and promote_secondaries=1 (removing one VIP
//     does not take the others with it);
//   - on the parent: arp_ignore=1 and arp_filter=1, so the parent, which sees
//     the same broadcast ARP requests, stays silent for the VIPs it does not
//     hold;
//   - on the parent, beyond keepalived: arp_announce=2. A VIP with a prefix
//     (172.16.0.24/24) gives the macvlan a connected route that duplicates
//     the parent's, and the parent's wins, so replies from the VIP leave
//     through the parent. Without arp_announce=2 the parent's ARP request
//     for the next hop names the VIP as sender, and every host on the
//     segment re-learns the VIP at the parent's MAC, undoing the vMAC
//     (TestNetlinkARPAnswersWithVMAC_VRB13 fails that way). With it the
//     request names the parent's own address.
//
// The parent's previous values are restored when the last VRRP interface
// this process created on it goes.
//
// # Mirror and redirect (VR-C20, VR-C21, VR-Q06)
//
// [Kernel.SetIngressCopy] hangs an ingress qdisc on a VRRP interface with
// one u32 filter (every frame) whose mirred actions copy inbound frames to
// a mirror interface and/or redirect them to an ifb, where a QoS policy can
// shape the combined ingress. The filter's priority [IngressCopyPriority]
// marks it as ours; the copy goes with the interface.
//
// # Backup drop (VR-B15)
//
// [Kernel.SetBackupDrop] makes a VRRP interface drop every inbound frame
// but adverts while its group is not MASTER: an nftables table of the
// netdev family, [BackupDropTable], with one ingress chain (policy drop,
// IP protocol 112 accepted), created or deleted whole in one netlink
// transaction (backupdrop.go says why nftables rather than tc or
// iptables). The engine calls it synchronously on the failover path; it
// takes a few hundred microseconds. The table's name marks it as ours; it
// goes with its VRRP interface.
//
// # What is ours
//
// A killed vrrpd leaves its macvlans and VIPs in the kernel (FIELD-NOTES).
// Every macvlan this package creates carries the ifalias prefix [AliasMark]
// followed by the description, so [Kernel.Leftovers] finds them after a
// restart, with the addresses on them, and the engine adopts or deletes them.
// The marker lives in the alias rather than a name pattern because operators
// may create their own macvlans named like ours (VR-Q16: never touch what we
// did not create).
//
// VIPs are not marked in the kernel. The kernel's own mark for this is the
// address protocol (IFA_PROTO, Linux 6.1), which vishvananda/netlink v1.3.1
// can neither set nor read; an address label is IPv4-only and limited to 15
// characters including the interface name. VIPs on a VRRP interface are ours
// by construction; VIPs on the parent (legacy mode) are recognised by the
// engine from the configuration, which is what it adopts anyway.
//
// Addresses are added with their prefix (IPv4) or with nodad (IPv6: a backup
// router holds no VIP, so DAD would only delay the takeover), and adding or
// removing twice is not an error.
package kernel
