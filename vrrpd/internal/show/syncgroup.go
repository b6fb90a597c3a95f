package show

import (
	"fmt"
	"strings"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// SyncGroups renders `show vrrp sync-group [group <name>]` (VR-O04,
// Example 2-17): one block per sync group, members indented 2.
func SyncGroups(syncGroups []*vrrpv1.SyncGroup) string {
	if len(syncGroups) == 0 {
		return "No sync groups.\n"
	}
	var b strings.Builder
	for _, sg := range syncGroups {
		fmt.Fprintf(&b, "%s\nGroup: %s\n%s\n", separator, sg.GetName(), separator)
		fmt.Fprintf(&b, "State: %s\n", stateName(sg.GetState()))
		b.WriteString("Monitoring:\n")
		for _, m := range sg.GetMembers() {
			fmt.Fprintf(&b, "  Interface: %s, Group: %d\n", m.GetInterface(), m.GetGroup())
		}
	}
	return b.String()
}
