package show

import (
	"fmt"
	"strings"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// Interfaces renders `show interfaces vrrp [<vrrp-if>]` (VR-O07, Example
// 2-10): one line per address, further addresses on continuation lines
// with an empty Interface column, "-" for an interface holding none.
func Interfaces(ifaces []*vrrpv1.VrrpInterface) string {
	t := table{minWidths: []int{15, 16, 5}, gap: 2}
	t.add("Interface", "IP Address", "S/L", "Description")
	t.add(separator)
	for _, ifc := range ifaces {
		addrs := ifc.GetAddresses()
		if len(addrs) == 0 {
			addrs = []string{"-"}
		}
		t.add(ifc.GetName(), addrs[0], linkCodes(ifc), ifc.GetDescription())
		for _, a := range addrs[1:] {
			t.add("", a)
		}
	}
	return "Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down\n" + t.String()
}

// linkCodes is the S/L column: admin state / link state.
func linkCodes(ifc *vrrpv1.VrrpInterface) string {
	if !ifc.GetAdminUp() {
		return "A/D"
	}
	if !ifc.GetLinkUp() {
		return "u/D"
	}
	return "u/u"
}

// InterfacesDetail renders `show interfaces vrrp detail` (VR-O07): per
// interface what `ip -s link show` tells, plus its parent and group.
func InterfacesDetail(ifaces []*vrrpv1.VrrpInterface) string {
	if len(ifaces) == 0 {
		return "No VRRP interfaces.\n"
	}
	var b strings.Builder
	for i, ifc := range ifaces {
		if i > 0 {
			b.WriteByte('\n')
		}
		field := func(label, value string) {
			if label != "" {
				label += ":"
			}
			fmt.Fprintf(&b, "  %-14s%s\n", label, value)
		}
		fmt.Fprintf(&b, "%s:\n", ifc.GetName())
		if ifc.GetDescription() != "" {
			field("Description", ifc.GetDescription())
		}
		field("Parent", ifc.GetParent())
		field("Group", fmt.Sprint(ifc.GetGroup()))
		field("MAC", orNA(ifc.GetMac()))
		field("MTU", fmt.Sprint(ifc.GetMtu()))
		field("Admin state", upDown(ifc.GetAdminUp()))
		field("Link state", upDown(ifc.GetLinkUp()))
		addrs := ifc.GetAddresses()
		if len(addrs) == 0 {
			addrs = []string{"-"}
		}
		field("Addresses", addrs[0])
		for _, a := range addrs[1:] {
			field("", a)
		}
		c := ifc.GetCounters()
		fmt.Fprintf(&b, "  RX: packets %d bytes %d errors %d dropped %d\n",
			c.GetRxPackets(), c.GetRxBytes(), c.GetRxErrors(), c.GetRxDropped())
		fmt.Fprintf(&b, "  TX: packets %d bytes %d errors %d dropped %d\n",
			c.GetTxPackets(), c.GetTxBytes(), c.GetTxErrors(), c.GetTxDropped())
	}
	return b.String()
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
