package netlab

import (
	"os"
	"slices"
	"testing"
)

func TestVmRSS(t *testing.T) {
	got, err := vmRSS("Name:\tclusterd\nVmPeak:\t 1 kB\nVmRSS:\t   19044 kB\nThreads: 7\n")
	if err != nil || got != 19044<<10 {
		t.Errorf("vmRSS = %d, %v; want %d", got, err, 19044<<10)
	}
	if _, err := vmRSS("Name:\tzombie\n"); err == nil {
		t.Error("vmRSS of a status without VmRSS: no error")
	}
}

func TestProcStatsOfThisProcess(t *testing.T) {
	pids := ProcessTree(os.Getpid())
	if !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("ProcessTree(%d) = %v, lacks the process itself", os.Getpid(), pids)
	}
	if rss, err := RSS(pids[:1]); err != nil || rss <= 0 {
		t.Errorf("RSS = %d, %v", rss, err)
	}
	if _, err := CPUTime(pids[:1]); err != nil {
		t.Errorf("CPUTime: %v", err)
	}
}
