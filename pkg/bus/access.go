package bus

import (
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Peer identifies the process at the other end of a unix socket, from
// SO_PEERCRED and /proc/<pid>/status.
type Peer struct {
	PID int32
	UID uint32
	GID uint32
	// Supplementary groups; nil when they could not be read.
	Groups []uint32
}

// accessPolicy decides who may use a socket: root, and the members of one
// group (by primary or supplementary gid).
type accessPolicy struct {
	socket      string // for messages
	accessGroup string
	lookupGroup GroupLookup
}

// authorize returns nil when peer may use the socket, else a gRPC
// PermissionDenied error that tells the caller what to do.
func (a accessPolicy) authorize(peer Peer) error {
	if peer.UID == 0 {
		return nil
	}
	gid, found, err := a.lookupGroup(a.accessGroup)
	switch {
	case err != nil:
		return status.Errorf(codes.PermissionDenied,
			"uid %d is not allowed to use %s: cannot look up group %s (%v): run as root",
			peer.UID, a.socket, a.accessGroup, err)
	case !found:
		return status.Errorf(codes.PermissionDenied,
			"uid %d is not allowed to use %s: run as root, or create group %s and add the user to it",
			peer.UID, a.socket, a.accessGroup)
	case peer.GID == gid || slices.Contains(peer.Groups, gid):
		return nil
	}
	return status.Errorf(codes.PermissionDenied,
		"uid %d is not allowed to use %s: run as root or add the user to group %s",
		peer.UID, a.socket, a.accessGroup)
}
