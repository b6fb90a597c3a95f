//go:build e2e

package e2e

import (
	"testing"
)

// TestCL_B07_O01_PrimaryTakesResourcesAtStart: both nodes start, hear each
// other within the startup wait, the primary starts the services and the
// secondary stands by (CL-B07); the client reaches the cluster IP on R1
// only (CL-B13, CL-B16); `show cluster status` prints the guide's
// Examples 3-6 and 3-7 for this lab (CL-O01).
func TestCL_B07_O01_PrimaryTakesResourcesAtStart(t *testing.T) {
	_, r1, r2 := pair(t, spec{})

	// Examples 3-6 and 3-7. The monitor turns Reachable at its first
	// reply, which may come after the resources moved: wait for it.
	r1.waitReport(t, statusReport("R1", "Active", "Active (standby)", "Reachable", "Reachable", "Active on primary R1 (this node)"))
	r2.waitReport(t, statusReport("R2", "Active", "Active (standby)", "Reachable", "Reachable", "Active on primary R1"))
	// CL-B15: the address first, then a and b in order; R2 ran nothing.
	r1.waitCalls(t, "a start ip=1", "b start ip=1")
	if got := r2.calls(t); len(got) != 0 {
		t.Errorf("the standby R2 ran its resource script: %q", got)
	}
}
