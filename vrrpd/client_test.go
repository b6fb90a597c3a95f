package main

import (
	"testing"

	"google.golang.org/protobuf/proto"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

func TestGroupRef(t *testing.T) {
	tests := []struct {
		ifname, group string
		want          *vrrpv1.GroupRef
	}{
		{"eth1.4001", "200", &vrrpv1.GroupRef{Interface: "eth1.4001", Group: 200}},
		{"eth0", "255", &vrrpv1.GroupRef{Interface: "eth0", Group: 255}},
		{"eth0", "0", nil},
		{"eth0", "256", nil},
		{"eth0", "ten", nil},
	}
	for _, tt := range tests {
		got, err := groupRef(tt.ifname, tt.group)
		if tt.want == nil {
			if err == nil {
				t.Errorf("groupRef(%q, %q) = %v, want an error", tt.ifname, tt.group, got)
			}
			continue
		}
		if err != nil || !proto.Equal(got, tt.want) {
			t.Errorf("groupRef(%q, %q) = %v, %v; want %v", tt.ifname, tt.group, got, err, tt.want)
		}
	}
}

func TestReloadText(t *testing.T) {
	tests := []struct {
		name string
		resp *vrrpv1.ReloadResponse
		want string
	}{
		{"nothing changed", &vrrpv1.ReloadResponse{Applied: true}, "No changes.\n"},
		{"changes", &vrrpv1.ReloadResponse{Applied: true, Changes: []string{"eth0/99: changed"}}, "eth0/99: changed\n"},
		{"errors", &vrrpv1.ReloadResponse{Diagnostics: []*vrrpv1.Diagnostic{{
			Severity: vrrpv1.Severity_SEVERITY_ERROR, File: "vrrpd.conf", Line: 3, Column: 5, Message: "bad",
		}}}, "vrrpd.conf:3:5: bad\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reloadText(tt.resp); got != tt.want {
				t.Errorf("reloadText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseInterfaceFilter(t *testing.T) {
	tests := []struct {
		args []string
		want *vrrpv1.GroupFilter
	}{
		{[]string{"eth0"}, &vrrpv1.GroupFilter{Interface: "eth0"}},
		{[]string{"eth1.4001", "group", "200"}, &vrrpv1.GroupFilter{Interface: "eth1.4001", Group: 200}},
		{nil, nil},
		{[]string{"eth0", "group"}, nil},
		{[]string{"eth0", "grp", "1"}, nil},
		{[]string{"eth0", "group", "0"}, nil},
	}
	for _, tt := range tests {
		got, err := parseInterfaceFilter(tt.args)
		if tt.want == nil {
			if err == nil {
				t.Errorf("parseInterfaceFilter(%q) = %v, want an error", tt.args, got)
			}
			continue
		}
		if err != nil || !proto.Equal(got, tt.want) {
			t.Errorf("parseInterfaceFilter(%q) = %v, %v; want %v", tt.args, got, err, tt.want)
		}
	}
}
