package server

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/daemon"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// patience bounds every wait on a condition; nothing should take near it.
const patience = 20 * time.Second

// gmt is the zone of the guide's examples, and now the fixed "current
// time" of the statuses, as in the show package's tests (whose golden
// files these conversions must reproduce).
var (
	gmt        = time.FixedZone("GMT", 0)
	now        = time.Date(2010, 7, 9, 23, 20, 0, 0, gmt)
	transition = time.Date(2010, 7, 9, 23, 15, 26, 0, gmt)
)

// fakeEngine answers with a hand-built status and caches and records what
// it is asked.
type fakeEngine struct {
	mu        sync.Mutex
	status    engine.Status
	statusErr error
	caches    map[engine.Which]engine.Snapshot
	cacheAsk  [][2]bool // main, expect of each Cache call
	applied   []*config.Config
	changes   []string
	applyErr  error
	resets    []engine.Which
	restarts  int
	cmdErr    error
	subs      map[chan engine.Event]bool
}

func newFakeEngine(st engine.Status) *fakeEngine {
	return &fakeEngine{status: st, caches: map[engine.Which]engine.Snapshot{}, subs: map[chan engine.Event]bool{}}
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

func (f *fakeEngine) Cache(_ context.Context, which engine.Which, main, expect bool) (engine.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.statusErr != nil {
		return engine.Snapshot{}, f.statusErr
	}
	f.cacheAsk = append(f.cacheAsk, [2]bool{main, expect})
	s := f.caches[which]
	var out engine.Snapshot
	if main {
		out.Main = s.Main
	}
	if expect {
		out.Expect = s.Expect
	}
	return out, nil
}

func (f *fakeEngine) Reset(_ context.Context, which engine.Which) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets = append(f.resets, which)
	return f.cmdErr
}

func (f *fakeEngine) Restart(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts++
	return f.cmdErr
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

// load parses testdata/name.
func load(t *testing.T, name string) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fixture is a server over a fake engine, served on a real unix socket.
type fixture struct {
	eng        *fakeEngine
	server     *Server
	client     ctsyncv1.CtsyncClient
	configFile string
	logs       *daemon.LogRing
}

func newFixture(t *testing.T, st engine.Status, extra ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{eng: newFakeEngine(st), logs: daemon.NewLogRing(64)}
	f.configFile = filepath.Join(t.TempDir(), "ctsyncd.conf")
	src, err := os.ReadFile(filepath.Join("testdata", "guide-status.conf"))
	if err != nil {
		t.Fatal(err)
	}
	f.writeConfig(t, string(src))
	opts := Options{ConfigFile: f.configFile, Logs: f.logs, Started: now.Add(-26 * time.Hour)}
	for _, fn := range extra {
		fn(&opts)
	}
	f.server = New(f.eng, opts)
	// Not t.TempDir(): a test's long name would pass the 108 bytes of a
	// socket path.
	dir, err := os.MkdirTemp("", "ctsyncd-server-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "ctsyncd.sock")
	lis, err := bus.Listen(socket)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	srv := bus.NewServer(socket, nil)
	ctsyncv1.RegisterCtsyncServer(srv, f.server)
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
	f.client = ctsyncv1.NewCtsyncClient(conn)
	return f
}

func (f *fixture) writeConfig(t *testing.T, src string) {
	t.Helper()
	if err := os.WriteFile(f.configFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
