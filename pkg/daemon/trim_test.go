package daemon

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func rssFileKiB(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kib
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestTrimExecutable: the executable's pages mapped by start-up leave the
// resident set, and the process goes on running (they fault back in).
func TestTrimExecutable(t *testing.T) {
	before := rssFileKiB(t)
	if err := TrimExecutable(); err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	if after >= before {
		t.Errorf("file-backed RSS %d KiB after trimming, %d before: want less", after, before)
	}
	t.Logf("file-backed RSS %d KiB -> %d KiB", before, after)
}
