package hook

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "moved.sh", "exit 0\n")
	if _, err := os.Stat(GuideDir); err == nil {
		t.Skipf("%s exists on this machine; the fallback cases assume it does not", GuideDir)
	}
	tests := []struct {
		name       string
		dir, input string
		want       string
	}{
		{"relative name in the scripts dir", dir, "vrrp-master.sh", filepath.Join(dir, "vrrp-master.sh")},
		{"relative path in the scripts dir", dir, "wlb/hook.sh", filepath.Join(dir, "wlb/hook.sh")},
		{"default scripts dir", "", "vrrp-master.sh", "/etc/hasuite/scripts/vrrp-master.sh"},
		{"absolute name as written", dir, "/usr/local/bin/notify", "/usr/local/bin/notify"},
		{"guide dir falls back to the scripts dir", dir, "/config/scripts/moved.sh", filepath.Join(dir, "moved.sh")},
		{"guide dir kept when the fallback is missing too", dir, "/config/scripts/nowhere.sh", "/config/scripts/nowhere.sh"},
		{"guide dir itself is not a prefix match", dir, "/config/scriptsmoved.sh", "/config/scriptsmoved.sh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Resolve(tt.dir, tt.input); got != tt.want {
				t.Errorf("Resolve(%q, %q) = %q, want %q", tt.dir, tt.input, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := writeScript(t, dir, "good.sh", "exit 0\n")
	notExec := filepath.Join(dir, "vrrp-master.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sh")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		path        string
		wantProblem error // nil: no error
		wantText    string
	}{
		{"executable file", good, nil, ""},
		{"symlink to an executable", link, nil, ""},
		{"missing", filepath.Join(dir, "absent.sh"), ErrMissing, "absent.sh does not exist: create it"},
		{"directory", dir, ErrDirectory, "is a directory"},
		{"not executable", notExec, ErrNotExecutable, "script " + notExec + " is not executable: chmod +x it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.path)
			if tt.wantProblem == nil {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want nil", tt.path, err)
				}
				return
			}
			if !errors.Is(err, tt.wantProblem) {
				t.Fatalf("Check(%s) = %v, want errors.Is %v", tt.path, err, tt.wantProblem)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Check(%s) = %q, want it to contain %q", tt.path, err, tt.wantText)
			}
		})
	}
}
