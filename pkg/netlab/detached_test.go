package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDetachedNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"vrrpd", true},
		{"conntrack-sync", true},
		{"a1", true},
		{"", false},
		{"Vrrpd", false},
		{"1vrrpd", false},
		{"vrrpd.conf", false},
		{"../etc", false},
	}
	for _, tt := range tests {
		if got := detachedNameRE.MatchString(tt.name); got != tt.ok {
			t.Errorf("name %q accepted = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestFindDetached(t *testing.T) {
	registryDir = t.TempDir()
	t.Cleanup(func() { registryDir = "/run/hasuite-netlab" })

	if found, err := FindDetached("hstest1"); err != nil || len(found) != 0 {
		t.Fatalf("FindDetached without a state directory = %v, %v; want none, no error", found, err)
	}
	dir := DetachedDir("hstest1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"r1-vrrpd.pid":          "1234\n",
		"r2-conntrack-sync.pid": "99",
		"r2-vrrpd.log":          "not a pid file",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found, err := FindDetached("hstest1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range found {
		got = append(got, fmt.Sprintf("%s %s %s %d %s", d.Lab, d.Node, d.Name, d.PID, filepath.Base(d.LogFile)))
	}
	want := []string{"hstest1 r1 vrrpd 1234 r1-vrrpd.log", "hstest1 r2 conntrack-sync 99 r2-conntrack-sync.log"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("FindDetached found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Neither runs in a lab namespace that exists: nothing to signal.
	for _, d := range found {
		if d.Running() {
			t.Errorf("%s %s counts as running without its node's namespace", d.Node, d.Name)
		}
	}

	if err := os.WriteFile(filepath.Join(dir, "r3-bad.pid"), []byte("twelve"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindDetached("hstest1"); err == nil || !strings.Contains(err.Error(), "no PID") {
		t.Errorf("FindDetached with a garbled pid file = %v, want an error saying so", err)
	}
	if _, err := FindDetached("../etc"); err == nil {
		t.Error("FindDetached accepted a prefix that is no lab prefix")
	}
}

// detachedHelperEnv makes the test binary run TestHelperDetached as a child
// that starts a detached process in a persistent lab and exits.
const detachedHelperEnv = "NETLAB_TEST_DETACHED_HELPER"

// detachedScript writes a line, then waits for SIGTERM and says so; its
// sleep is a child in its process group.
const detachedScript = `trap 'kill $! 2>/dev/null; echo got TERM; exit 0' TERM; echo started; sleep 1000 & wait`

func TestHelperDetached(t *testing.T) {
	prefix := os.Getenv(detachedHelperEnv)
	if prefix == "" {
		t.Skip("a child process of TestPrivilegedDetachedOutlivesItsStarter")
	}
	lab, err := Build(t.Context(), prefix, threeNodes(), Options{Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	d, err := lab.Node("server").StartDetached(DetachOptions{Name: "script"}, "sh", "-c", detachedScript)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("DETACHED %d\n", d.PID)
}

// TestPrivilegedDetachedOutlivesItsStarter: a child process builds a
// persistent lab, starts a detached process in it and exits; the process
// keeps running, is found by its pid file, logs to its file, and stops on
// SIGTERM. Destroy then kills a second one and removes the state.
func TestPrivilegedDetachedOutlivesItsStarter(t *testing.T) {
	RequirePrivileged(t)
	prefix := randomPrefix()
	t.Cleanup(func() {
		if err := Destroy(prefix); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), cmdTime)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperDetached$", "-test.count=1")
	cmd.Env = append(os.Environ(), detachedHelperEnv+"="+prefix)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var pid int
	if _, err := fmt.Sscanf(string(out), "DETACHED %d", &pid); err != nil {
		t.Fatalf("helper printed no PID:\n%s", out)
	}

	found, err := FindDetached(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].PID != pid || found[0].Node != "server" || found[0].Name != "script" {
		t.Fatalf("FindDetached = %+v, want server's script as PID %d", found, pid)
	}
	d := found[0]
	if !d.Running() {
		t.Fatalf("the detached process died with its starter; its log:\n%s", readLog(d))
	}
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("session of the detached process = %d, %v; want its own, %d", sid, err, pid)
	}
	WaitFor(t, settle, func() (bool, string) {
		return strings.Contains(readLog(d), "started"), "its log so far: " + readLog(d)
	})

	lab, err := Attach(prefix, threeNodes())
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	if _, err := lab.Node("server").StartDetached(DetachOptions{Name: "script"}, "true"); err == nil {
		t.Error("a second process under the same name started while the first runs")
	}

	if err := StopDetached(prefix, settle); err != nil {
		t.Fatalf("StopDetached: %v", err)
	}
	if d.Running() {
		t.Error("still running after StopDetached")
	}
	if !strings.Contains(readLog(d), "got TERM") {
		t.Errorf("the process was not stopped by SIGTERM; its log:\n%s", readLog(d))
	}
	if _, err := os.Stat(d.PIDFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after StopDetached: %v, want it gone", err)
	}

	// Destroy needs no pid file to kill, but removes them all.
	// With its log elsewhere, found by the link in the state directory.
	logFile := filepath.Join(t.TempDir(), "sleeper.log")
	d2, err := lab.Node("client").StartDetached(DetachOptions{Name: "sleeper", LogFile: logFile}, "sleep", "1000")
	if err != nil {
		t.Fatal(err)
	}
	found, err = FindDetached(prefix)
	if err != nil || len(found) != 1 || found[0].PID != d2.PID || !found[0].Running() {
		t.Fatalf("FindDetached = %+v, %v; want the client's sleeper running as PID %d", found, err, d2.PID)
	}
	if want, _ := filepath.EvalSymlinks(logFile); found[0].LogFile != want {
		t.Errorf("FindDetached: log %s, want %s", found[0].LogFile, want)
	}
	lab.Close()
	if err := Destroy(prefix); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, settle, func() (bool, string) {
		_, err := processStart(d2.PID)
		return err != nil, "the detached sleep still runs after Destroy"
	})
	if _, err := os.Stat(DetachedDir(prefix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lab's state directory after Destroy: %v, want it gone", err)
	}
	assertGone(t, prefix)
}

func readLog(d *Detached) string {
	b, err := os.ReadFile(d.LogFile)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
