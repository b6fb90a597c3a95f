package kernel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The backup drop (VR-B15) is an nftables table of the netdev family per
// VRRP interface, BackupDropTable(ifname), holding one base chain on the
// interface's ingress hook with policy drop and two rules accepting IP
// protocol 112 (adverts) over IPv4 and IPv6:
//
//	table netdev vrrpd-eth0v99 {
//		chain backup {
//			type filter hook ingress device eth0v99 priority 0; policy drop;
//			meta protocol ip ip protocol 112 accept
//			meta protocol ip6 ip6 nexthdr 112 accept
//		}
//	}
//
// A master has no table: turning the drop off deletes it, one netlink
// batch; turning it on creates it whole, another. The table's name is
// vrrpd's mark, as the alias is on the interface: a leftover is
// recognised, other tables are never touched.
//
// Why not tc, where the ingress copy lives: dropping needs a gact action
// (act_gact) or a BPF program (CAP_BPF and the bpf system call, which the
// unit does not grant), and the kernels hasuite is tested on are built
// without act_gact; nftables' netdev family needs CAP_NET_ADMIN alone.
// Why not iptables, where the VIP rules stay: the filter must go the
// moment a backup becomes master, before the VIPs are added, and return
// once it has removed them. One netlink batch takes tens of microseconds
// on the loop; the iptables binary took 5-10 ms on a worker, while the new
// master dropped what hosts sent to the virtual MAC. The netdev ingress
// hook runs after tc's, so the ingress copy still sees what a backup
// drops, as it did with iptables.

// vrrpProtocol is VRRP's IP protocol number (and IPv6 next header).
const vrrpProtocol = 112

// BackupDropTable is the nftables table (netdev family) holding the backup
// drop of the VRRP interface ifname.
func BackupDropTable(ifname string) string { return "vrrpd-" + ifname }

// backupDropChain is the base chain in that table.
const backupDropChain = "backup"

// nftables netlink constants (linux/netfilter/nf_tables.h, nfnetlink.h).
const (
	nfnlSubsysNFTables = 10
	nfnlMsgBatchBegin  = 0x10
	nfnlMsgBatchEnd    = 0x11

	nftMsgNewTable = 0
	nftMsgDelTable = 2
	nftMsgNewChain = 3
	nftMsgGetChain = 4
	nftMsgNewRule  = 6
	// nftMsgDestroyTable deletes a table that may be absent (Linux 6.3).
	nftMsgDestroyTable = 26

	nftaTableName   = 1
	nftaChainTable  = 1
	nftaChainName   = 3
	nftaChainHook   = 4
	nftaChainPolicy = 5
	nftaChainType   = 7
	nftaHookHooknum = 1
	nftaHookPrio    = 2
	nftaHookDev     = 3
	nftaRuleTable   = 1
	nftaRuleChain   = 2
	nftaRuleExprs   = 4
	nftaListElem    = 1
	nftaExprName    = 1
	nftaExprData    = 2

	nftaMetaDreg      = 1
	nftaMetaKey       = 2
	nftMetaProtocol   = 1
	nftaCmpSreg       = 1
	nftaCmpOp         = 2
	nftaCmpData       = 3
	nftCmpEq          = 0
	nftaDataValue     = 1
	nftaDataVerdict   = 2
	nftaVerdictCode   = 1
	nftaPayloadDreg   = 1
	nftaPayloadBase   = 2
	nftaPayloadOffset = 3
	nftaPayloadLen    = 4
	nftPayloadNetwork = 1
	nftaImmDreg       = 1
	nftaImmData       = 2
	nftRegVerdict     = 0
	nftReg1           = 1

	nfDrop            = 0
	nfAccept          = 1
	nfNetdevIngress   = 0
	nfprotoNetdev     = 5
	nlaFNested        = 0x8000
	nfnetlinkV0       = 0
	nlmsgHeaderLength = unix.SizeofNlMsghdr
)

var native = binary.NativeEndian

// SetBackupDrop implements Kernel.
func (n *Netlink) SetBackupDrop(_ context.Context, ifname string, drop bool) error {
	n.vmacMu.Lock()
	defer n.vmacMu.Unlock()
	l, err := n.link(ifname)
	switch {
	case errors.Is(err, ErrNoInterface) && !drop:
		return nil // nothing arrives on an interface that is not there
	case err != nil:
		return fmt.Errorf("drop the inbound traffic of backup %s: %w", ifname, err)
	case !ours(l):
		return fmt.Errorf("refusing to filter the inbound traffic of %s: vrrpd did not create it (its alias lacks %q)", ifname, AliasMark)
	case drop:
		return n.addBackupDrop(ifname)
	default:
		return n.removeBackupDrop(ifname)
	}
}

func (n *Netlink) addBackupDrop(ifname string) error {
	table := BackupDropTable(ifname)
	chain, err := n.nft.getChain(table, backupDropChain)
	if err != nil {
		return fmt.Errorf("read the backup drop of %s (nftables table netdev %s): %w%s", ifname, table, err, nftHint(err))
	}
	if chain != nil && chain.policy == nfDrop && chain.device == ifname {
		return nil
	}
	var msgs [][]byte
	if chain != nil {
		// Not what we make (an older vrrpd's, say): make it again, in
		// the same transaction.
		msgs = append(msgs, nftMsg(nftMsgDelTable, 0, nlattr(nftaTableName, cstr(table))))
	}
	msgs = append(msgs,
		nftMsg(nftMsgNewTable, unix.NLM_F_CREATE, nlattr(nftaTableName, cstr(table))),
		nftMsg(nftMsgNewChain, unix.NLM_F_CREATE,
			nlattr(nftaChainTable, cstr(table)),
			nlattr(nftaChainName, cstr(backupDropChain)),
			nested(nftaChainHook,
				nlattr(nftaHookHooknum, be32(nfNetdevIngress)),
				nlattr(nftaHookPrio, be32(0)),
				nlattr(nftaHookDev, cstr(ifname))),
			nlattr(nftaChainPolicy, be32(nfDrop)),
			nlattr(nftaChainType, cstr("filter"))),
		acceptProtocolRule(table, unix.ETH_P_IP, 9),
		// Adverts carry no IPv6 extension header: the next header is
		// the protocol.
		acceptProtocolRule(table, unix.ETH_P_IPV6, 6),
	)
	if err := n.nft.batch(msgs); err != nil {
		return fmt.Errorf("drop the inbound traffic of backup %s (nftables table netdev %s): %w%s", ifname, table, err, nftHint(err))
	}
	return nil
}

// nftHint says what a kernel that refuses the table lacks.
func nftHint(err error) string {
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EAFNOSUPPORT) {
		return " (the kernel needs nf_tables with the netdev family: CONFIG_NF_TABLES_NETDEV, nft_meta, nft_payload, nft_cmp)"
	}
	return ""
}

// removeBackupDrop deletes the table with its chain and rules, one request.
// Destroy, not delete: a failed transaction (deleting a table that is not
// there) costs the kernel an RCU grace period, ~15 ms here. Kernels before
// 6.3 lack destroy (EINVAL) and get delete.
func (n *Netlink) removeBackupDrop(ifname string) error {
	table := BackupDropTable(ifname)
	var err error
	if !n.nft.noDestroy.Load() {
		err = n.nft.batch([][]byte{nftMsg(nftMsgDestroyTable, 0, nlattr(nftaTableName, cstr(table)))})
		if errors.Is(err, unix.EINVAL) {
			n.nft.noDestroy.Store(true)
		}
	}
	if n.nft.noDestroy.Load() {
		err = n.nft.batch([][]byte{nftMsg(nftMsgDelTable, 0, nlattr(nftaTableName, cstr(table)))})
	}
	// Without nf_tables (no netfilter netlink socket) there is no table.
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EPROTONOSUPPORT) {
		return fmt.Errorf("stop dropping the inbound traffic of %s (delete nftables table netdev %s): %w", ifname, table, err)
	}
	return nil
}

// backupDropOn reports whether ifname's drop is in place, for Leftovers.
func (n *Netlink) backupDropOn(ifname string) (bool, error) {
	chain, err := n.nft.getChain(BackupDropTable(ifname), backupDropChain)
	if errors.Is(err, unix.EPROTONOSUPPORT) {
		return false, nil // no nf_tables, no drop
	}
	if err != nil {
		return false, fmt.Errorf("read the backup drop of %s: %w", ifname, err)
	}
	return chain != nil && chain.policy == nfDrop, nil
}

// acceptProtocolRule is `meta protocol <ethertype> <header byte at offset>
// == 112 accept`.
func acceptProtocolRule(table string, ethertype uint16, offset uint32) []byte {
	expr := func(name string, attrs ...[]byte) []byte {
		return nested(nftaListElem, nlattr(nftaExprName, cstr(name)), nested(nftaExprData, attrs...))
	}
	return nftMsg(nftMsgNewRule, unix.NLM_F_CREATE|unix.NLM_F_APPEND,
		nlattr(nftaRuleTable, cstr(table)),
		nlattr(nftaRuleChain, cstr(backupDropChain)),
		nested(nftaRuleExprs,
			expr("meta", nlattr(nftaMetaDreg, be32(nftReg1)), nlattr(nftaMetaKey, be32(nftMetaProtocol))),
			expr("cmp", nlattr(nftaCmpSreg, be32(nftReg1)), nlattr(nftaCmpOp, be32(nftCmpEq)),
				nested(nftaCmpData, nlattr(nftaDataValue, []byte{byte(ethertype >> 8), byte(ethertype)}))),
			expr("payload", nlattr(nftaPayloadDreg, be32(nftReg1)), nlattr(nftaPayloadBase, be32(nftPayloadNetwork)),
				nlattr(nftaPayloadOffset, be32(offset)), nlattr(nftaPayloadLen, be32(1))),
			expr("cmp", nlattr(nftaCmpSreg, be32(nftReg1)), nlattr(nftaCmpOp, be32(nftCmpEq)),
				nested(nftaCmpData, nlattr(nftaDataValue, []byte{vrrpProtocol}))),
			expr("immediate", nlattr(nftaImmDreg, be32(nftRegVerdict)),
				nested(nftaImmData, nested(nftaDataVerdict, nlattr(nftaVerdictCode, be32(nfAccept))))),
		))
}

// nftMsg is one nftables message of the netdev family; batch fills in its
// sequence number and request flags.
func nftMsg(kind uint16, flags uint16, attrs ...[]byte) []byte {
	return nfMsg(nfnlSubsysNFTables<<8|kind, flags, nfprotoNetdev, 0, attrs...)
}

func nfMsg(typ, flags uint16, family uint8, resID uint16, attrs ...[]byte) []byte {
	b := make([]byte, nlmsgHeaderLength, 64)
	native.PutUint16(b[4:], typ)
	native.PutUint16(b[6:], flags)
	b = append(b, family, nfnetlinkV0, byte(resID>>8), byte(resID))
	for _, a := range attrs {
		b = append(b, a...)
	}
	native.PutUint32(b[0:], uint32(len(b)))
	return b
}

func nlattr(typ uint16, data []byte) []byte {
	l := unix.SizeofNlAttr + len(data)
	b := make([]byte, unix.SizeofNlAttr, nlaAlign(l))
	native.PutUint16(b[0:], uint16(l))
	native.PutUint16(b[2:], typ)
	b = append(b, data...)
	return append(b, make([]byte, nlaAlign(l)-l)...)
}

func nested(typ uint16, attrs ...[]byte) []byte {
	var data []byte
	for _, a := range attrs {
		data = append(data, a...)
	}
	return nlattr(typ|nlaFNested, data)
}

func nlaAlign(l int) int { return (l + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func cstr(s string) []byte { return append([]byte(s), 0) }
