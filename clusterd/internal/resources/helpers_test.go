package resources

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/pkg/hook"
)

// patience bounds every wait; only reached when something is broken.
const patience = 30 * time.Second

// journal records what the fakes did, in order, across kernel and scripts.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, s)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// journaledKernel is a FakeKernel that also writes address changes to a
// journal, so their order relative to scripts shows.
type journaledKernel struct {
	*FakeKernel
	j *journal
}

func (k journaledKernel) AddAddr(ctx context.Context, a Addr) error {
	err := k.FakeKernel.AddAddr(ctx, a)
	if err == nil {
		k.j.add("add " + a.Prefix.Addr().String())
	}
	return err
}

func (k journaledKernel) DelAddr(ctx context.Context, a Addr) error {
	err := k.FakeKernel.DelAddr(ctx, a)
	if err == nil {
		k.j.add("del " + a.Prefix.Addr().String())
	}
	return err
}

// fakeScripts is a ScriptRunner answering from a table: "name action" ->
// Result; anything else succeeds. It journals "name action".
type fakeScripts struct {
	j       *journal
	results map[string]hook.Result
}

func (f *fakeScripts) Run(_ context.Context, key string, job hook.Job) hook.Result {
	name := filepath.Base(job.Script)
	if name == "systemctl" {
		name = "systemctl " + job.Args[len(job.Args)-1]
		job.Args = job.Args[:len(job.Args)-1]
	}
	call := name + " " + strings.Join(job.Args, " ")
	f.j.add(call)
	if res, ok := f.results[call]; ok {
		res.Key = key
		return res
	}
	return hook.Result{Key: key, Script: job.Script}
}

// scriptDirs creates an init directory holding the given init scripts and
// a resource directory holding the given resource scripts, executable
// no-ops (the fake runner never runs them).
func scriptDirs(t *testing.T, initScripts, resourceScripts []string) (initDir, resourceDir string) {
	t.Helper()
	initDir, resourceDir = t.TempDir(), t.TempDir()
	for dir, names := range map[string][]string{initDir: initScripts, resourceDir: resourceScripts} {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return initDir, resourceDir
}

// ipService builds a cluster IP service as the config parser would.
func ipService(raw, prefix, ifname, label string) config.Service {
	return config.Service{Kind: config.ServiceIP, Raw: raw, Addr: netip.MustParsePrefix(prefix), Interface: ifname, Label: label}
}

func initService(name string) config.Service {
	return config.Service{Kind: config.ServiceInit, Raw: name, Name: name}
}

func scriptService(raw string) config.Service {
	parts := strings.Split(raw, "::")
	return config.Service{Kind: config.ServiceScript, Raw: raw, Name: parts[0], Args: parts[1:]}
}

// waitFor polls cond until it holds, failing the test after patience.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
