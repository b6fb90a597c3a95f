package main

import (
	"runtime/debug"
	"testing"
)

// The daemon's GC headroom (issue 5: under 30 MiB holding 100k entries)
// applies unless the operator sets GOGC, which wins.
func TestSetGCPercent(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "100")
	if got := setGCPercent(); got != 100 {
		t.Errorf("with GOGC set: %d, want the runtime's own 100", got)
	}
	t.Setenv("GOGC", "")
	if got := setGCPercent(); got != defaultGCPercent {
		t.Errorf("without GOGC: %d, want %d", got, defaultGCPercent)
	}
	if p := debug.SetGCPercent(old); p != defaultGCPercent {
		t.Errorf("the runtime has %d, want %d", p, defaultGCPercent)
	}
}
