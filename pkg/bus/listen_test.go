package bus

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestListenCreatesTheDirectoryAndRestrictsTheSocket(t *testing.T) {
	const hasuiteGID = 4242
	path := filepath.Join(t.TempDir(), "run", "hasuite", "vrrpd.sock")
	l, err := Listen(path, WithGroupLookup(func(string) (uint32, bool, error) { return hasuiteGID, true, nil }))
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close()

	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if dir.Mode().Perm() != 0o755 {
		t.Errorf("socket directory mode = %v, want 0755", dir.Mode().Perm())
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Type() != fs.ModeSocket || info.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v, want a socket with 0660", info.Mode())
	}
	if os.Getuid() == 0 { // only root may give a file to any group
		if gid := info.Sys().(*syscall.Stat_t).Gid; gid != hasuiteGID {
			t.Errorf("socket group = %d, want %d", gid, hasuiteGID)
		}
	}

	l.Close()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left behind after Close: %v", err)
	}
}

func TestListenRemovesAStaleSocket(t *testing.T) {
	path := socketIn(t, "vrrpd")
	crashed, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	crashed.(*net.UnixListener).SetUnlinkOnClose(false) // as a crash leaves it
	crashed.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket should exist: %v", err)
	}

	l, err := Listen(path, WithGroupLookup(noAccessGroup))
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l.Close()
}

func TestListenRefusesWhenAnotherDaemonIsRunning(t *testing.T) {
	path := socketIn(t, "vrrpd")
	running, err := Listen(path, WithGroupLookup(noAccessGroup))
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()

	_, err = Listen(path, WithGroupLookup(noAccessGroup))
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Listen = %v, want ErrAlreadyRunning", err)
	}
	want := "another vrrpd is already running on " + path + ": stop it first, or give this one another --run-dir"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if _, statErr := os.Lstat(path); statErr != nil {
		t.Errorf("the running daemon's socket was removed: %v", statErr)
	}
}

func TestListenRefusesToReplaceAFile(t *testing.T) {
	path := socketIn(t, "vrrpd")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(path, WithGroupLookup(noAccessGroup))
	if err == nil {
		t.Fatal("Listen replaced a regular file")
	}
	if content, _ := os.ReadFile(path); string(content) != "precious" {
		t.Errorf("the file was touched: %q", content)
	}
}
