package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is ctsyncd's GOGC unless the environment sets one.
// Holding 100k connections is ~10 MB of live heap, nearly all of it the
// caches' pointer-free records (internal/cache), which a collection does
// not scan: collecting at 1.5 times the live heap instead of the default 2
// costs little CPU and keeps the resident set under the 30 MiB
// (docs/benchmarks.md). Unlike a memory limit it scales with the table, so
// a bigger table never makes the collector run back to back and starve
// the event listener.
const defaultGCPercent = 50

// setGCPercent applies defaultGCPercent unless GOGC is set, and returns
// the percentage in force.
func setGCPercent() int {
	if os.Getenv("GOGC") != "" { // the runtime took it at start
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(defaultGCPercent)
	return defaultGCPercent
}
