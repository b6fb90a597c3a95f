package bus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

const syncGroup = "sync-group/ALPHA"

// runHolder runs h until the returned stop is called or the test ends.
func runHolder(t *testing.T, h *Holder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := receive(t, done, "the holder to stop"); err != nil {
			t.Errorf("Holder.Run: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

// holderNames lists the holders registered on group, waiting for the
// producer to have the group.
func holderNames(p *Producer, group string) []string {
	list, _ := p.List(context.Background(), &busv1.ListRequest{})
	var names []string
	for _, g := range list.GetGroups() {
		if g.GetGroup() == group {
			for _, h := range g.GetHolders() {
				names = append(names, h.GetHolder())
			}
		}
	}
	return names
}

func waitForHolders(t *testing.T, p *Producer, group string, want ...string) {
	t.Helper()
	waitFor(t, "holders "+strings.Join(want, ",")+" on "+group, func() bool {
		return slices.Equal(holderNames(p, group), want)
	})
}

// readyAt answers ready at once, and reports each request it got.
func readyAt(requests chan<- PrepareRequest) PrepareFunc {
	return func(_ context.Context, req PrepareRequest) error {
		requests <- req
		return nil
	}
}

// blockUntil reports each request, then waits for release (ignoring its
// ctx, like a holder still busy past the deadline) or for ctx if release is
// nil.
func blockUntil(release <-chan struct{}, requests chan<- PrepareRequest) PrepareFunc {
	return func(ctx context.Context, req PrepareRequest) error {
		requests <- req
		if release == nil {
			<-ctx.Done()
			return ctx.Err()
		}
		<-release
		return nil
	}
}

func failWith(reason string) PrepareFunc {
	return func(context.Context, PrepareRequest) error { return errors.New(reason) }
}

func outcomes(r GateResult) map[string]busv1.GateOutcome {
	m := make(map[string]busv1.GateOutcome)
	for _, h := range r.Holders {
		m[h.Holder] = h.Outcome
	}
	return m
}

func TestPrepareWithoutGateHoldersReturnsAtOnce(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	mustPublish(t, sp.Producer, syncGroup, backup, "")
	// A demotion-only holder is not a gate.
	runHolder(t, NewHolder(DialerFor(sp.path), syncGroup, "wlbd", nil, fastBackoff))
	waitForHolders(t, sp.Producer, syncGroup, "wlbd")

	started := time.Now()
	result := sp.Prepare(testContext(t), syncGroup, master, time.Now().Add(time.Hour))
	if len(result.Holders) != 0 || !result.Ready() || result.String() != "no gate holders" {
		t.Errorf("Prepare = %+v, want no holders", result)
	}
	if elapsed := time.Since(started); elapsed > patience {
		t.Errorf("Prepare without gates waited %v", elapsed)
	}
}

func TestPrepareOutcomes(t *testing.T) {
	const (
		ready     = busv1.GateOutcome_GATE_OUTCOME_READY
		failed    = busv1.GateOutcome_GATE_OUTCOME_FAILED
		timedOut  = busv1.GateOutcome_GATE_OUTCOME_TIMED_OUT
		abandoned = busv1.GateOutcome_GATE_OUTCOME_ABANDONED
	)
	tests := []struct {
		desc string
		// release unblocks holders still preparing when the test ends.
		holders   func(release <-chan struct{}) map[string]PrepareFunc
		deadline  time.Duration
		want      map[string]busv1.GateOutcome
		wantReady bool
		wantText  string
	}{
		{
			desc: "all ready",
			holders: func(<-chan struct{}) map[string]PrepareFunc {
				return map[string]PrepareFunc{"ctsyncd": readyAt(make(chan PrepareRequest, 10)), "wlbd": readyAt(make(chan PrepareRequest, 10))}
			},
			deadline:  time.Hour,
			want:      map[string]busv1.GateOutcome{"ctsyncd": ready, "wlbd": ready},
			wantReady: true,
		},
		{
			desc: "one fails: the wait ends",
			holders: func(release <-chan struct{}) map[string]PrepareFunc {
				return map[string]PrepareFunc{"ctsyncd": failWith("no peer"), "wlbd": blockUntil(release, make(chan PrepareRequest, 10))}
			},
			deadline: time.Hour,
			want:     map[string]busv1.GateOutcome{"ctsyncd": failed, "wlbd": abandoned},
			wantText: "failed after",
		},
		{
			desc: "deadline passes",
			holders: func(release <-chan struct{}) map[string]PrepareFunc {
				return map[string]PrepareFunc{"ctsyncd": blockUntil(release, make(chan PrepareRequest, 10))}
			},
			deadline: 50 * time.Millisecond,
			want:     map[string]busv1.GateOutcome{"ctsyncd": timedOut},
			wantText: "ctsyncd not ready at the deadline",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
			mustPublish(t, sp.Producer, syncGroup, backup, "")
			release := make(chan struct{})
			var names []string
			for name, prepare := range tt.holders(release) {
				runHolder(t, NewHolder(DialerFor(sp.path), syncGroup, name, prepare, fastBackoff))
				names = append(names, name)
			}
			t.Cleanup(func() { close(release) }) // before the holders stop
			slices.Sort(names)
			waitForHolders(t, sp.Producer, syncGroup, names...)

			result := sp.Prepare(testContext(t), syncGroup, master, time.Now().Add(tt.deadline))
			if got := outcomes(result); !mapsEqual(got, tt.want) {
				t.Errorf("outcomes = %v, want %v (%v)", got, tt.want, result)
			}
			if result.Ready() != tt.wantReady {
				t.Errorf("Ready() = %v, want %v", result.Ready(), tt.wantReady)
			}
			if !strings.Contains(result.String(), tt.wantText) {
				t.Errorf("String() = %q, want it to contain %q", result.String(), tt.wantText)
			}
			// The report is kept for show commands.
			list, _ := sp.List(t.Context(), &busv1.ListRequest{})
			report := list.GetGroups()[0].GetLastPrepare()
			if report.GetPrepareId() != result.PrepareID || len(report.GetHolders()) != len(tt.want) ||
				report.GetTargetState() != master {
				t.Errorf("last prepare = %v, want the report of %v", report, result)
			}
		})
	}
}

func mapsEqual[K, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPrepareCarriesTheRequest(t *testing.T) {
	sp := serve(t, socketIn(t, "clusterd"), newTestProducer("clusterd"))
	mustPublish(t, sp.Producer, "cluster/cluster1", busv1.State_STATE_STANDBY, "")
	requests := make(chan PrepareRequest, 1)
	runHolder(t, NewHolder(DialerFor(sp.path), "cluster/cluster1", "ctsyncd", readyAt(requests), fastBackoff))
	waitForHolders(t, sp.Producer, "cluster/cluster1", "ctsyncd")

	deadline := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	result := sp.Prepare(testContext(t), "cluster/cluster1", busv1.State_STATE_ACTIVE, deadline)
	got := receive(t, requests, "the prepare request")
	want := PrepareRequest{ID: result.PrepareID, Group: "cluster/cluster1", Target: StateActive, Deadline: deadline}
	if got.ID != want.ID || got.Group != want.Group || got.Target != want.Target || !got.Deadline.Equal(want.Deadline) {
		t.Errorf("request = %+v, want %+v", got, want)
	}
	if !strings.HasPrefix(result.String(), "ctsyncd ready after ") {
		t.Errorf("String() = %q", result.String())
	}
}

// A gate holder that restarts while a Prepare is pending is dropped at
// once, and the next Prepare waits for its new registration.
func TestGateHolderRestartDuringPrepare(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	mustPublish(t, sp.Producer, syncGroup, backup, "")
	requests := make(chan PrepareRequest, 10)
	stopFirst := runHolder(t, NewHolder(DialerFor(sp.path), syncGroup, "ctsyncd", blockUntil(nil, requests), fastBackoff))
	waitForHolders(t, sp.Producer, syncGroup, "ctsyncd")

	results := make(chan GateResult, 1)
	go func() { results <- sp.Prepare(testContext(t), syncGroup, master, time.Now().Add(time.Hour)) }()
	receive(t, requests, "the first prepare request")
	stopFirst() // the holder process dies mid-prepare

	result := receive(t, results, "Prepare to return without waiting an hour")
	if got := outcomes(result)["ctsyncd"]; got != busv1.GateOutcome_GATE_OUTCOME_DISCONNECTED {
		t.Fatalf("outcome = %v, want DISCONNECTED (%v)", got, result)
	}

	// The restarted holder registers again; the next Prepare waits for it.
	readyRequests := make(chan PrepareRequest, 10)
	runHolder(t, NewHolder(DialerFor(sp.path), syncGroup, "ctsyncd", readyAt(readyRequests), fastBackoff))
	waitForHolders(t, sp.Producer, syncGroup, "ctsyncd")
	result = sp.Prepare(testContext(t), syncGroup, master, time.Now().Add(time.Hour))
	if got := outcomes(result)["ctsyncd"]; got != busv1.GateOutcome_GATE_OUTCOME_READY {
		t.Fatalf("outcome after the restart = %v, want READY (%v)", got, result)
	}
	receive(t, readyRequests, "the second prepare request")
}

func TestPrepareStopsWaitingWhenCancelled(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	mustPublish(t, sp.Producer, syncGroup, backup, "")
	requests := make(chan PrepareRequest, 10)
	runHolder(t, NewHolder(DialerFor(sp.path), syncGroup, "ctsyncd", blockUntil(nil, requests), fastBackoff))
	waitForHolders(t, sp.Producer, syncGroup, "ctsyncd")

	ctx, cancel := context.WithCancel(testContext(t))
	results := make(chan GateResult, 1)
	go func() { results <- sp.Prepare(ctx, syncGroup, master, time.Now().Add(time.Hour)) }()
	receive(t, requests, "the prepare request")
	cancel()
	result := receive(t, results, "Prepare to return")
	if got := outcomes(result)["ctsyncd"]; got != busv1.GateOutcome_GATE_OUTCOME_ABANDONED {
		t.Fatalf("outcome = %v, want ABANDONED (%v)", got, result)
	}
}

func TestDemotion(t *testing.T) {
	changes := make(chan string, 100)
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd", WithDemotionHook(func(group string) { changes <- group })))
	mustPublish(t, sp.Producer, syncGroup, backup, "")
	demoted := func(want bool, wantReasons ...string) func() bool {
		return func() bool {
			is, reasons := sp.Demoted(syncGroup)
			return is == want && slices.Equal(reasons, wantReasons)
		}
	}

	// Registered demoted from the start: never seen undemoted.
	ctsyncd := NewHolder(DialerFor(sp.path), syncGroup, "ctsyncd", readyAt(make(chan PrepareRequest, 10)), fastBackoff)
	ctsyncd.SetDemoted(true, "initial resync pending")
	stopCtsyncd := runHolder(t, ctsyncd)
	waitFor(t, "demotion at registration", demoted(true, "ctsyncd: initial resync pending"))
	if group := receive(t, changes, "the demotion hook"); group != syncGroup {
		t.Errorf("hook got group %q", group)
	}

	wlbd := NewHolder(DialerFor(sp.path), syncGroup, "wlbd", nil, fastBackoff)
	runHolder(t, wlbd)
	wlbd.SetDemoted(true, "no healthy uplink")
	waitFor(t, "a second demotion",
		demoted(true, "ctsyncd: initial resync pending", "wlbd: no healthy uplink"))

	ctsyncd.SetDemoted(false, "")
	wlbd.SetDemoted(false, "")
	waitFor(t, "demotions cleared", demoted(false))
	if group := receive(t, changes, "the hook on clearing"); group != syncGroup {
		t.Errorf("hook got group %q", group)
	}
	list, _ := sp.List(t.Context(), &busv1.ListRequest{})
	if g := list.GetGroups()[0]; g.GetDemoted() || len(g.GetHolders()) != 2 {
		t.Errorf("status = %v, want two holders, not demoted", g)
	}

	ctsyncd.SetDemoted(true, "resync again")
	waitFor(t, "demotion set again", demoted(true, "ctsyncd: resync again"))
	stopCtsyncd()
	waitFor(t, "the demotion dropped with its stream", demoted(false))
}

// A Holder survives a producer restart: it registers again, with its
// demotion, on the new producer.
func TestHolderReregistersAfterProducerRestart(t *testing.T) {
	path := socketIn(t, "vrrpd")
	first := serve(t, path, newTestProducer("vrrpd"))
	requests := make(chan PrepareRequest, 10)
	h := NewHolder(DialerFor(path), syncGroup, "ctsyncd", readyAt(requests), fastBackoff)
	h.SetDemoted(true, "initial resync pending")
	runHolder(t, h)
	waitFor(t, "demotion on the first producer", func() bool { is, _ := first.Demoted(syncGroup); return is })

	first.stop()
	second := serve(t, path, newTestProducer("vrrpd"))
	mustPublish(t, second.Producer, syncGroup, backup, "")
	waitForHolders(t, second.Producer, syncGroup, "ctsyncd")
	if is, reasons := second.Demoted(syncGroup); !is {
		t.Errorf("demotion lost across the restart: %v", reasons)
	}
	result := second.Prepare(testContext(t), syncGroup, master, time.Now().Add(time.Hour))
	if !result.Ready() || len(result.Holders) != 1 {
		t.Errorf("Prepare on the new producer = %v", result)
	}
}

func TestHoldMustStartWithRegister(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	conn, err := Dial(testContext(t), sp.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := []struct {
		desc  string
		first *busv1.HoldRequest
	}{
		{"demotion first", &busv1.HoldRequest{Request: &busv1.HoldRequest_Demotion{Demotion: &busv1.Demotion{Demoted: true}}}},
		{"register without a group", &busv1.HoldRequest{Request: &busv1.HoldRequest_Register{Register: &busv1.HoldRegister{Holder: "x"}}}},
	}
	for _, tt := range tests {
		stream, err := busv1.NewFailoverClient(conn).Hold(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(tt.first); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: Recv = %v, want InvalidArgument", tt.desc, err)
		}
	}
}

func TestHolderNeedsAGroupAndAName(t *testing.T) {
	h := NewHolder(DialerFor("/nonexistent.sock"), "", "ctsyncd", nil)
	if err := h.Run(testContext(t)); err == nil {
		t.Error("Run without a group succeeded")
	}
}
