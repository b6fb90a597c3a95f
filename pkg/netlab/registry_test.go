package netlab

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestOwnerAlive(t *testing.T) {
	self, err := ownerRecord("hstest1")
	if err != nil {
		t.Fatal(err)
	}
	// A child that has exited and been reaped: its PID names no process.
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		desc string
		rec  record
		want bool
	}{
		{"this process", self, true},
		{"this PID reused by another process", record{OwnerPID: self.OwnerPID, OwnerStart: self.OwnerStart + 1}, false},
		{"a process that has exited", record{OwnerPID: child.Process.Pid, OwnerStart: 1}, false},
		{"no owner", record{}, false},
	}
	for _, tt := range tests {
		if got := tt.rec.ownerAlive(); got != tt.want {
			t.Errorf("%s: ownerAlive = %v, want %v", tt.desc, got, tt.want)
		}
	}
}

func TestClaim(t *testing.T) {
	registryDir = t.TempDir()
	t.Cleanup(func() { registryDir = "/run/hasuite-netlab" })

	rec, err := ownerRecord("hstest2")
	if err != nil {
		t.Fatal(err)
	}
	if err := claim(rec); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if err := claim(rec); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second claim = %v, want an error wrapping os.ErrExist", err)
	}
	got, err := readRecord("hstest2")
	if err != nil || got.OwnerPID != rec.OwnerPID || got.OwnerStart != rec.OwnerStart {
		t.Fatalf("readRecord = %+v, %v; want %+v", got, err, rec)
	}
	entries, _ := os.ReadDir(registryDir)
	if len(entries) != 1 {
		t.Errorf("registry holds %d files, want only the record (no temporary file left)", len(entries))
	}
}

func TestPrefixes(t *testing.T) {
	for range 100 {
		p := randomPrefix()
		last := p[len(p)-1]
		if err := checkPrefix(p); err != nil || len(p) != 7 || !strings.HasPrefix(p, "hs") || last < '0' || last > '9' {
			t.Fatalf("randomPrefix() = %q (%v), want hs, 4 lowercase letters or digits and a digit", p, err)
		}
	}
	for _, bad := range []string{"", "h", "Hslab", "1lab", "hs-lab", "averyverylongprefix"} {
		if checkPrefix(bad) == nil {
			t.Errorf("checkPrefix(%q) passed, want an error", bad)
		}
	}
}
