//go:build !linux

package bus

import (
	"fmt"
	"net"
	"runtime"
)

// peerOf is Linux-only: SO_PEERCRED is how the bus authenticates clients.
func peerOf(net.Conn) (Peer, error) {
	return Peer{}, fmt.Errorf("peer credentials are not implemented on %s", runtime.GOOS)
}
