package bus

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestAuthorize(t *testing.T) {
	const hasuiteGID = 4242
	groupExists := func(name string) (uint32, bool, error) {
		if name != "hasuite" {
			t.Errorf("looked up group %q, want hasuite", name)
		}
		return hasuiteGID, true, nil
	}
	noGroup := func(string) (uint32, bool, error) { return 0, false, nil }
	brokenLookup := func(string) (uint32, bool, error) { return 0, false, errors.New("/etc/group: permission denied") }

	tests := []struct {
		desc    string
		peer    Peer
		lookup  GroupLookup
		wantErr string // "" = allowed
	}{
		{"root", Peer{UID: 0, GID: 0}, groupExists, ""},
		{"root without the group", Peer{UID: 0, GID: 0}, noGroup, ""},
		{"root when the lookup fails", Peer{UID: 0}, brokenLookup, ""},
		{"primary group hasuite", Peer{UID: 1000, GID: hasuiteGID}, groupExists, ""},
		{"supplementary group hasuite", Peer{UID: 1000, GID: 1000, Groups: []uint32{24, hasuiteGID}}, groupExists, ""},
		{"other user", Peer{UID: 1000, GID: 1000, Groups: []uint32{24, 27}}, groupExists,
			"uid 1000 is not allowed to use /run/hasuite/vrrpd.sock: run as root or add the user to group hasuite"},
		{"groups unknown", Peer{UID: 1000, GID: 1000}, groupExists,
			"uid 1000 is not allowed to use /run/hasuite/vrrpd.sock: run as root or add the user to group hasuite"},
		{"uid equal to the gid is not membership", Peer{UID: hasuiteGID, GID: 1000}, groupExists,
			"uid 4242 is not allowed to use /run/hasuite/vrrpd.sock: run as root or add the user to group hasuite"},
		{"no group hasuite", Peer{UID: 1000, GID: 1000}, noGroup,
			"uid 1000 is not allowed to use /run/hasuite/vrrpd.sock: run as root, or create group hasuite and add the user to it"},
		{"lookup fails", Peer{UID: 1000, GID: 1000}, brokenLookup,
			"uid 1000 is not allowed to use /run/hasuite/vrrpd.sock: cannot look up group hasuite (/etc/group: permission denied): run as root"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			policy := accessPolicy{socket: "/run/hasuite/vrrpd.sock", accessGroup: "hasuite", lookupGroup: tt.lookup}
			err := policy.authorize(tt.peer)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("authorize(%+v) = %v, want allowed", tt.peer, err)
				}
				return
			}
			if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != tt.wantErr {
				t.Fatalf("authorize(%+v) = %v, want PermissionDenied %q", tt.peer, err, tt.wantErr)
			}
		})
	}
}
