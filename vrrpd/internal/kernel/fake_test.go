package kernel

import (
	"net/netip"
	"testing"
)

func newFakeWithParent() *Fake {
	f := NewFake()
	f.AddInterface("eth0", parentMAC, parentAddr, netip.MustParsePrefix("fe80::1/64"))
	return f
}

func TestFakeScript(t *testing.T) {
	runScript(t, newFakeWithParent())
}

func TestFakeRefusesForeignInterface_VRQ16(t *testing.T) {
	f := newFakeWithParent()
	f.AddInterface("eth0v7", VirtualMAC(7, false))
	checkRefusesForeign(t, f, "eth0v7")
}

func TestFakeEvents_VRB30(t *testing.T) {
	f := newFakeWithParent()
	checkEvents(t, f, func(running bool) error { return f.SetRunning("eth0", running) })
}

func TestFakeLeftoversGoWithTheirParent(t *testing.T) {
	f := newFakeWithParent()
	if err := f.EnsureVMAC(t.Context(), vmac99); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteInterface("eth0"); err != nil {
		t.Fatal(err)
	}
	if got := f.String(); got != "" {
		t.Errorf("state after deleting the parent:\n%s\nwant nothing", got)
	}
}

func TestInterfaceSources_VRB02(t *testing.T) {
	f := newFakeWithParent()
	ifc, err := f.Interface(t.Context(), "eth0")
	if err != nil {
		t.Fatal(err)
	}
	want := Interface{Name: "eth0", MAC: parentMAC, AdminUp: true, Running: true,
		PrimaryIPv4: parentAddr.Addr(), LinkLocalIPv6: netip.MustParseAddr("fe80::1")}
	if ifc.MAC.String() != want.MAC.String() || ifc.AdminUp != want.AdminUp || ifc.Running != want.Running ||
		ifc.PrimaryIPv4 != want.PrimaryIPv4 || ifc.LinkLocalIPv6 != want.LinkLocalIPv6 {
		t.Errorf("Interface(eth0) = %+v, want %+v", ifc, want)
	}
}

func TestVirtualMAC_VRB18(t *testing.T) {
	tests := []struct {
		vrid uint8
		ipv6 bool
		want string
	}{
		{99, false, "00:00:5e:00:01:63"},
		{1, false, "00:00:5e:00:01:01"},
		{255, true, "00:00:5e:00:02:ff"},
	}
	for _, tt := range tests {
		if got := VirtualMAC(tt.vrid, tt.ipv6); got.String() != tt.want {
			t.Errorf("VirtualMAC(%d, %v) = %s, want %s", tt.vrid, tt.ipv6, got, tt.want)
		}
	}
}
