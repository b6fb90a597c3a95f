package bus

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// socketMode lets root and the access group connect (connecting to a unix
// socket needs write permission on it).
const socketMode = 0o660

// liveSocketProbeTimeout bounds the check for a live process on an existing
// socket; a live daemon accepts at once.
const liveSocketProbeTimeout = 2 * time.Second

// Listen listens on the unix socket at path for a daemon's gRPC server. It
// creates the parent directory (0755) if missing and removes a stale socket
// left by a crash, but refuses with an error matching [ErrAlreadyRunning]
// when another process answers on it. The socket gets mode 0660 and the
// access group (default "hasuite") when that group exists. Closing the
// listener removes the socket.
func Listen(path string, opts ...SocketOption) (net.Listener, error) {
	cfg := newSocketConfig(opts)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create the socket directory: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := restrictSocket(path, cfg); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// removeStaleSocket removes the socket at path unless a process answers on it.
func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check the existing socket: %w", err)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: remove it or give the daemon another --run-dir", path)
	}
	conn, err := net.DialTimeout("unix", path, liveSocketProbeTimeout)
	if err == nil {
		conn.Close()
		return &alreadyRunningError{daemon: daemonName(path), path: path}
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check whether another %s runs on %s: %w", daemonName(path), path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the stale socket: %w", err)
	}
	return nil
}

// restrictSocket gives the socket its mode and access group.
func restrictSocket(path string, cfg socketConfig) error {
	if err := os.Chmod(path, socketMode); err != nil {
		return fmt.Errorf("set the socket's mode: %w", err)
	}
	gid, found, err := cfg.lookupGroup(cfg.accessGroup)
	if err != nil {
		return fmt.Errorf("look up group %s for the socket: %w", cfg.accessGroup, err)
	}
	if !found {
		return nil // root only, until an admin creates the group
	}
	if err := os.Chown(path, -1, int(gid)); err != nil {
		return fmt.Errorf("give the socket to group %s: %w", cfg.accessGroup, err)
	}
	return nil
}

// daemonName names the daemon behind a socket path for messages:
// "/run/hasuite/vrrpd.sock" -> "vrrpd".
func daemonName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".sock")
}
