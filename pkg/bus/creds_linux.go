package bus

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerOf reads the credentials of the process at the other end of conn.
func peerOf(conn net.Conn) (Peer, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return Peer{}, fmt.Errorf("peer credentials need a unix socket, not %T", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("read peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("read peer credentials: %w", err)
	}
	if credErr != nil {
		return Peer{}, fmt.Errorf("read peer credentials (SO_PEERCRED): %w", credErr)
	}
	peer := Peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}
	// SO_PEERCRED has no supplementary groups. The process may have exited
	// since it connected; then it is judged by uid and gid alone.
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cred.Pid)); err == nil {
		peer.Groups = parseStatusGroups(status)
	}
	return peer, nil
}

// parseStatusGroups returns the "Groups:" line of a /proc/<pid>/status file.
func parseStatusGroups(status []byte) []uint32 {
	scanner := bufio.NewScanner(bytes.NewReader(status))
	for scanner.Scan() {
		list, found := strings.CutPrefix(scanner.Text(), "Groups:")
		if !found {
			continue
		}
		var groups []uint32
		for _, field := range strings.Fields(list) {
			gid, err := strconv.ParseUint(field, 10, 32)
			if err == nil {
				groups = append(groups, uint32(gid))
			}
		}
		return groups
	}
	return nil
}
