package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// patience bounds every wait on a condition; nothing should take near it.
const patience = 20 * time.Second

// now is the fixed "current time" of the statuses (as in the show tests).
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// fakeEngine answers with hand-built statuses and records what it is asked.
type fakeEngine struct {
	mu         sync.Mutex
	status     engine.Status
	statusErr  error
	applied    []*config.Config
	changes    []string
	applyErr   error
	standbys   int
	takeovers  int
	commandErr error
	subs       map[chan engine.Event]bool
}

func newFakeEngine(st engine.Status) *fakeEngine {
	return &fakeEngine{status: st, subs: map[chan engine.Event]bool{}}
}

func (f *fakeEngine) Apply(_ context.Context, cfg *config.Config) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applyErr != nil {
		return nil, f.applyErr
	}
	f.applied = append(f.applied, cfg)
	return f.changes, nil
}

func (f *fakeEngine) Status(context.Context) (engine.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.statusErr
}

func (f *fakeEngine) Standby(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.standbys++
	return f.commandErr
}

func (f *fakeEngine) Takeover(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.takeovers++
	return f.commandErr
}

func (f *fakeEngine) Subscribe() (<-chan engine.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan engine.Event, 16)
	f.subs[c] = true
	return c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.subs[c] {
			delete(f.subs, c)
			close(c)
		}
	}
}

// set changes the status, then announces ev (if any) to subscribers, as
// the engine's loop does: the status already shows what the event says.
func (f *fakeEngine) set(st engine.Status, ev *engine.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = st
	if ev != nil {
		for c := range f.subs {
			c <- *ev
		}
	}
}

// stop closes every subscription, as a stopping engine does.
func (f *fakeEngine) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusErr = engine.ErrStopped
	for c := range f.subs {
		delete(f.subs, c)
		close(c)
	}
}

func (f *fakeEngine) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// loadGuide parses testdata/guide-status.conf.
func loadGuide(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("testdata", "guide-status.conf"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var guideUID = wire.UID{0x6f, 0x1c, 0x2a, 0x4e, 0x0b, 0x7d, 0x4c, 0x39, 0x9a, 0x51, 0x2d, 0x8e, 0x7f, 0x3b, 0x9c, 0x10}

var peerUID = wire.UID{0xc4, 0xb7, 0xe9, 0xd2, 0x53, 0xa1, 0x4f, 0x6e, 0x8e, 0x27, 0x91, 0xd0, 0xa6, 0xb5, 0xf3, 0xc8}

// guideStatus is the guide's cluster seen from local ("R1", "R2", or
// another name), the peer heard on both links.
func guideStatus(t *testing.T, local string, v fsm.View, reachable ...bool) engine.Status {
	t.Helper()
	cfg := loadGuide(t)
	st := engine.Status{
		Configured: true, NodeName: local, UID: guideUID, Config: cfg, Now: now, View: v,
		NotMember: cfg.Group.RoleOf(local) == config.RoleNone,
	}
	// R1 has the guide's 12.34.56.10 (4811) and 10.6.0.10; R2 .20 in the
	// same subnets.
	self, peer := "10", "20"
	if local == "R2" {
		self, peer = peer, self
	}
	st.Links = []engine.Link{
		{Interface: "eth0", Up: true, Address: "12.34.56." + self},
		{Interface: "eth1", Up: true, Address: "10.6.0." + self},
	}
	for i, m := range cfg.Group.Monitors {
		ms := monitor.MonitorStatus{Addr: m, State: monitor.Reachable, LastReply: now.Add(-1200 * time.Millisecond)}
		if i < len(reachable) && !reachable[i] {
			ms.State, ms.LastReply = monitor.Unreachable, now.Add(-25*time.Second)
		}
		st.Monitors = append(st.Monitors, ms)
	}
	for _, s := range cfg.Group.Services {
		st.Services = append(st.Services, resources.ServiceState{Service: s, Since: now.Add(-time.Hour)})
	}
	if v.PeerHeard {
		st.Peer = engine.Peer{
			UID: peerUID, Address: "12.34.56." + peer, BootID: "77aa",
			FirstHeard: now.Add(-26 * time.Hour), LastHeard: now.Add(-1400 * time.Millisecond), AliveSince: now.Add(-2 * time.Hour),
			Links: map[string]time.Time{"eth0": now.Add(-1400 * time.Millisecond), "eth1": now.Add(-3*time.Minute - 12*time.Second)},
		}
		st.Peer.Name = cfg.Group.Peer(cfg.Group.RoleOf(local))
	}
	return st
}

// fixture is a server over a fake engine, served on a real unix socket.
type fixture struct {
	eng        *fakeEngine
	server     *Server
	client     clusterv1.ClusterClient
	configFile string
	logs       *daemon.LogRing
	stop       func()
}

func newFixture(t *testing.T, st engine.Status, extra ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{eng: newFakeEngine(st), logs: daemon.NewLogRing(64)}
	f.configFile = filepath.Join(t.TempDir(), "clusterd.conf")
	src, err := os.ReadFile(filepath.Join("testdata", "guide-status.conf"))
	if err != nil {
		t.Fatal(err)
	}
	f.writeConfig(t, string(src))
	opts := Options{
		ConfigFile: f.configFile, Logs: f.logs, Started: now.Add(-26*time.Hour - 5*time.Minute),
		StatusPoll: 20 * time.Millisecond,
		Services:   resources.Options{InitDir: scriptDir(t, "ipsec"), ResourceDirs: []string{scriptDir(t, "IPaddr2")}, SystemdDir: t.TempDir()},
	}
	for _, fn := range extra {
		fn(&opts)
	}
	f.server = New(f.eng, opts)
	// Not t.TempDir(): a test's long name would pass the 108 bytes of a
	// socket path.
	dir, err := os.MkdirTemp("", "clusterd-server-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "clusterd.sock")
	lis, err := bus.Listen(socket)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	srv := bus.NewServer(socket, nil)
	clusterv1.RegisterClusterServer(srv, f.server)
	f.stop = srv.Stop
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	conn, err := bus.Dial(t.Context(), socket)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	f.client = clusterv1.NewClusterClient(conn)
	return f
}

func (f *fixture) writeConfig(t *testing.T, src string) {
	t.Helper()
	if err := os.WriteFile(f.configFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// scriptDir is a directory holding an executable script called name.
func scriptDir(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var errPeerDead = errors.New("the peer R2 is not alive: nobody to give the resources to")
