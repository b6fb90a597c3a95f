package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hasuite/hasuite/pkg/netlab"
)

const settle = 10 * time.Second

func TestDiagramShowsEveryAddress(t *testing.T) {
	for _, n := range labTopology().Nodes {
		if !strings.Contains(diagram, labPrefix+"-"+n.Name) {
			t.Errorf("the diagram does not show node %s", n.Name)
		}
		for _, ifc := range n.Interfaces {
			for _, a := range ifc.Addrs {
				if !strings.Contains(diagram, a) {
					t.Errorf("the diagram does not show %s of %s:%s", a, n.Name, ifc.Name)
				}
			}
		}
	}
}

func TestReadmeShowsTheDiagram(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	picture, _, _ := strings.Cut(diagram, "[x] =")
	for _, line := range strings.Split(picture, "\n") {
		if strings.TrimSpace(line) != "" && !strings.Contains(string(readme), line+"\n") {
			t.Errorf("README.md lacks the diagram's line %q: copy the diagram from topology.go", line)
		}
	}
}

// TestPrivilegedLabTopology builds the lab's topology under a random prefix,
// so it never meets a developer's hslab, and checks the paths it promises.
func TestPrivilegedLabTopology(t *testing.T) {
	lab := netlab.New(t, labTopology())
	lan, r1, r2, isp2 := lab.Node("lan"), lab.Node("r1"), lab.Node("r2"), lab.Node("isp2")

	// Echo requests from the LAN host must cross R1's LAN interface.
	capture, err := r1.Capture("eth2", func(frame []byte) bool { return echoRequestFrom(frame, "172.16.0.33") != "" })
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		from  *netlab.Node
		to    string
		viaR1 bool
	}{
		{lan, "12.34.56.1", true},   // ISP1
		{lan, "98.76.54.1", true},   // ISP2
		{lan, "11.22.33.44", true},  // a chapter 1 health target behind ISP1
		{lan, "96.97.98.99", true},  // the chapter 3 VPN peer behind ISP1
		{lan, "12.34.56.200", true}, // R2's upstream address, through R1
		{r1, "192.168.0.200", false},
		{r1, "172.16.30.200", false},
		{r2, "10.6.0.55", false},     // chapter 3's downstream monitor
		{r2, "12.34.56.133", false},  // chapter 4's upstream monitor
		{isp2, "172.16.0.33", false}, // back to the LAN through R1's eth3
	}
	for _, tt := range tests {
		tt.from.WaitPing(t, tt.to, settle)
		if tt.viaR1 {
			capture.WaitPacket(t, settle, func(frame []byte) bool { return echoRequestFrom(frame, "172.16.0.33") == tt.to })
		}
	}
}

// echoRequestFrom returns the destination of an ICMP echo request sent by
// src, or "" for any other frame.
func echoRequestFrom(frame []byte, src string) string {
	if len(frame) < 14 || frame[12] != 0x08 || frame[13] != 0x00 {
		return ""
	}
	h, err := ipv4.ParseHeader(frame[14:])
	if err != nil || h.Protocol != 1 || h.Src.String() != src || len(frame) <= 14+h.Len {
		return ""
	}
	if ipv4.ICMPType(frame[14+h.Len]) != ipv4.ICMPTypeEcho {
		return ""
	}
	return h.Dst.String()
}
