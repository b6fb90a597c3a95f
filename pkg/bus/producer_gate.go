package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// holderOutbox bounds the Prepare requests queued for one holder's stream.
// Rounds on one group follow each other, so more than a few pending means
// the holder's stream is stuck; the overflow counts as a failure.
const holderOutbox = 16

// holder is one registration on a Hold stream.
type holder struct {
	group      string
	name       string
	gate       bool
	registered time.Time
	demotion   *busv1.Demotion // never nil
	dropped    bool            // the stream ended

	prepares chan *busv1.Prepare      // to send on the stream
	pending  map[uint64]*prepareRound // rounds waiting for this holder
}

// prepareRound is one Prepare call waiting for the gate holders of a group.
type prepareRound struct {
	report   *busv1.PrepareReport
	started  time.Time
	outcomes map[*holder]*busv1.HolderOutcome
	waiting  int           // holders yet to answer
	done     chan struct{} // closed when all answered or one failed
	finished bool          // done is closed
}

// GateResult is the outcome of [Producer.Prepare].
type GateResult struct {
	PrepareID uint64
	Group     string
	Target    busv1.State
	Started   time.Time
	// How long Prepare waited.
	Duration time.Duration
	// One per gate holder, sorted by holder name; empty when the group has
	// no gate holder.
	Holders []HolderOutcome
}

// HolderOutcome is how one gate holder answered a Prepare.
type HolderOutcome struct {
	Holder  string
	Outcome busv1.GateOutcome
	// The holder's reason for failing, or why it was not waited for.
	Reason string
	// From sending Prepare to the outcome.
	Duration time.Duration
}

// Ready reports whether every gate holder answered ready (true when there
// was none).
func (r GateResult) Ready() bool {
	for _, h := range r.Holders {
		if h.Outcome != busv1.GateOutcome_GATE_OUTCOME_READY {
			return false
		}
	}
	return true
}

// String summarises the result for logs and show commands, e.g.
// "ctsyncd ready after 84ms".
func (r GateResult) String() string {
	if len(r.Holders) == 0 {
		return "no gate holders"
	}
	parts := make([]string, len(r.Holders))
	for i, h := range r.Holders {
		parts[i] = h.String()
	}
	return strings.Join(parts, ", ")
}

// String describes the outcome, e.g. "ctsyncd ready after 84ms".
func (o HolderOutcome) String() string {
	after := roundDuration(o.Duration)
	switch o.Outcome {
	case busv1.GateOutcome_GATE_OUTCOME_READY:
		return fmt.Sprintf("%s ready after %v", o.Holder, after)
	case busv1.GateOutcome_GATE_OUTCOME_FAILED:
		return fmt.Sprintf("%s failed after %v: %s", o.Holder, after, o.Reason)
	case busv1.GateOutcome_GATE_OUTCOME_TIMED_OUT:
		return fmt.Sprintf("%s not ready at the deadline (%v)", o.Holder, after)
	case busv1.GateOutcome_GATE_OUTCOME_DISCONNECTED:
		return fmt.Sprintf("%s disconnected after %v", o.Holder, after)
	default:
		return fmt.Sprintf("%s not waited for after %v: %s", o.Holder, after, o.Reason)
	}
}

// roundDuration keeps what a person reads: 84ms, not 84.270331ms.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// Prepare asks every gate holder of group to get ready for the group to
// become target (MASTER or ACTIVE) and waits until all are ready, one has
// failed, the deadline passes, ctx ends, or the producer closes. A holder
// whose stream ends meanwhile is dropped, not waited for. With no gate
// holder it returns at once. The result is also kept for the group's
// status (GroupStatus.last_prepare).
func (p *Producer) Prepare(ctx context.Context, group string, target busv1.State, deadline time.Time) GateResult {
	round, wait := p.startRound(group, target, deadline)
	if wait {
		timer := time.NewTimer(deadline.Sub(round.started))
		defer timer.Stop()
		select {
		case <-round.done:
		case <-timer.C:
			p.endRound(round, busv1.GateOutcome_GATE_OUTCOME_TIMED_OUT, "deadline passed")
		case <-ctx.Done():
			p.endRound(round, busv1.GateOutcome_GATE_OUTCOME_ABANDONED, context.Cause(ctx).Error())
		case <-p.closing:
			p.endRound(round, busv1.GateOutcome_GATE_OUTCOME_ABANDONED, p.source+" is shutting down")
		}
	}
	result := p.finishRound(round, group, target)
	p.logger.Info("takeover gates done", "group", group, "target", State(target), "prepare_id", result.PrepareID,
		"duration", roundDuration(result.Duration), "gates", result.String())
	return result
}

// startRound sends Prepare to the gate holders of group. wait reports
// whether there is anyone to wait for.
func (p *Producer) startRound(group string, target busv1.State, deadline time.Time) (round *prepareRound, wait bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prepareID++
	round = &prepareRound{
		report:   &busv1.PrepareReport{PrepareId: p.prepareID, TargetState: target},
		started:  p.now(),
		outcomes: make(map[*holder]*busv1.HolderOutcome),
		done:     make(chan struct{}),
	}
	request := &busv1.Prepare{
		PrepareId:   p.prepareID,
		Group:       group,
		Deadline:    timestamppb.New(deadline),
		TargetState: target,
	}
	for h := range p.holders[group] {
		if !h.gate {
			continue
		}
		round.outcomes[h] = &busv1.HolderOutcome{Holder: h.name}
		round.waiting++
		select {
		case h.prepares <- request:
			h.pending[request.PrepareId] = round
		default:
			p.resolveLocked(round, h, busv1.GateOutcome_GATE_OUTCOME_FAILED, "its stream is not keeping up")
		}
	}
	return round, !round.finished && round.waiting > 0
}

// resolveLocked records holder h's outcome in round, unless it already has
// one. Call with p.mu held.
func (p *Producer) resolveLocked(round *prepareRound, h *holder, outcome busv1.GateOutcome, reason string) {
	o := round.outcomes[h]
	if o == nil || o.Outcome != busv1.GateOutcome_GATE_OUTCOME_UNSPECIFIED {
		return
	}
	o.Outcome = outcome
	o.Reason = reason
	o.Duration = durationpb.New(p.now().Sub(round.started))
	delete(h.pending, round.report.PrepareId)
	round.waiting--
	if !round.finished && (round.waiting == 0 || outcome == busv1.GateOutcome_GATE_OUTCOME_FAILED) {
		round.finished = true
		close(round.done)
	}
}

// endRound gives every holder that has not answered the outcome for why the
// wait ended.
func (p *Producer) endRound(round *prepareRound, outcome busv1.GateOutcome, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for h := range round.outcomes {
		p.resolveLocked(round, h, outcome, reason)
	}
}

// finishRound stores the report of a round that no longer waits and
// returns its result.
func (p *Producer) finishRound(round *prepareRound, group string, target busv1.State) GateResult {
	// A wait cut short by a failure leaves the others unanswered.
	p.endRound(round, busv1.GateOutcome_GATE_OUTCOME_ABANDONED, "another gate holder failed")
	p.mu.Lock()
	defer p.mu.Unlock()
	result := GateResult{
		PrepareID: round.report.PrepareId,
		Group:     group,
		Target:    target,
		Started:   round.started,
		Duration:  p.now().Sub(round.started),
	}
	for _, o := range round.outcomes {
		round.report.Holders = append(round.report.Holders, o)
		result.Holders = append(result.Holders, HolderOutcome{
			Holder:   o.Holder,
			Outcome:  o.Outcome,
			Reason:   o.Reason,
			Duration: o.Duration.AsDuration(),
		})
	}
	slices.SortFunc(round.report.Holders, func(a, b *busv1.HolderOutcome) int { return strings.Compare(a.Holder, b.Holder) })
	slices.SortFunc(result.Holders, func(a, b HolderOutcome) int { return strings.Compare(a.Holder, b.Holder) })
	round.report.Started = timestamppb.New(round.started)
	round.report.Duration = durationpb.New(result.Duration)
	if _, exists := p.groups[group]; exists {
		p.lastPrepares[group] = round.report
	}
	return result
}

// Demoted reports whether any holder demotes group, with each demoting
// holder's reason ("ctsyncd: initial resync pending"), sorted.
func (p *Producer) Demoted(group string) (bool, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var reasons []string
	for h := range p.holders[group] {
		if h.demotion.GetDemoted() {
			reasons = append(reasons, h.name+": "+h.demotion.GetReason())
		}
	}
	slices.Sort(reasons)
	return len(reasons) > 0, reasons
}

func (p *Producer) demotedLocked(group string) bool {
	for h := range p.holders[group] {
		if h.demotion.GetDemoted() {
			return true
		}
	}
	return false
}

// holderStatusesLocked lists the holders of group, sorted by name.
func (p *Producer) holderStatusesLocked(group string) []*busv1.HolderStatus {
	var statuses []*busv1.HolderStatus
	for h := range p.holders[group] {
		statuses = append(statuses, &busv1.HolderStatus{
			Holder:     h.name,
			Gate:       h.gate,
			Demotion:   h.demotion,
			Registered: timestamppb.New(h.registered),
		})
	}
	slices.SortFunc(statuses, func(a, b *busv1.HolderStatus) int { return strings.Compare(a.Holder, b.Holder) })
	return statuses
}

// Hold implements busv1.FailoverServer.
func (p *Producer) Hold(stream busv1.Failover_HoldServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	reg := first.GetRegister()
	if reg == nil {
		return status.Error(codes.InvalidArgument, "the first Hold message must be a register")
	}
	if reg.GetGroup() == "" || reg.GetHolder() == "" {
		return status.Error(codes.InvalidArgument, "register needs a group and a holder name")
	}
	h, err := p.addHolder(reg)
	if err != nil {
		return err
	}
	defer p.dropHolder(h)
	registered := &busv1.HoldRegistered{Source: p.source, BootId: p.bootID}
	if err := stream.Send(&busv1.HoldResponse{Response: &busv1.HoldResponse_Registered{Registered: registered}}); err != nil {
		return err
	}
	// Requests are read on their own goroutine, which ends when this handler
	// returns and grpc cancels the stream.
	received := make(chan error, 1)
	go func() { received <- p.serveHoldRequests(stream, h) }()
	for {
		select {
		case request := <-h.prepares:
			if err := stream.Send(&busv1.HoldResponse{Response: &busv1.HoldResponse_Prepare{Prepare: request}}); err != nil {
				return err
			}
		case err := <-received:
			return err
		case <-p.closing:
			return p.errClosed()
		}
	}
}

// serveHoldRequests applies a holder's requests until its stream ends.
func (p *Producer) serveHoldRequests(stream busv1.Failover_HoldServer, h *holder) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch r := req.GetRequest().(type) {
		case *busv1.HoldRequest_Demotion:
			p.setDemotion(h, r.Demotion)
		case *busv1.HoldRequest_Ready:
			p.answer(h, r.Ready.GetPrepareId(), busv1.GateOutcome_GATE_OUTCOME_READY, "")
		case *busv1.HoldRequest_Failed:
			p.answer(h, r.Failed.GetPrepareId(), busv1.GateOutcome_GATE_OUTCOME_FAILED, r.Failed.GetReason())
		case *busv1.HoldRequest_Register:
			return status.Error(codes.InvalidArgument, "already registered: open another Hold stream for another group")
		default:
			return status.Errorf(codes.InvalidArgument, "unknown Hold request %T", r)
		}
	}
}

func (p *Producer) addHolder(reg *busv1.HoldRegister) (*holder, error) {
	demotion := reg.GetDemotion()
	if demotion == nil {
		demotion = &busv1.Demotion{}
	}
	h := &holder{
		group:    reg.GetGroup(),
		name:     reg.GetHolder(),
		gate:     reg.GetGate(),
		demotion: demotion,
		prepares: make(chan *busv1.Prepare, holderOutbox),
		pending:  make(map[uint64]*prepareRound),
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, p.errClosed()
	}
	h.registered = p.now()
	wasDemoted := p.demotedLocked(h.group)
	if p.holders[h.group] == nil {
		p.holders[h.group] = make(map[*holder]struct{})
	}
	p.holders[h.group][h] = struct{}{}
	isDemoted := p.demotedLocked(h.group)
	p.mu.Unlock()

	p.logger.Info("bus holder registered", "group", h.group, "holder", h.name, "gate", h.gate,
		"demoted", demotion.GetDemoted(), "demotion_reason", demotion.GetReason())
	p.demotionChanged(h.group, wasDemoted, isDemoted)
	return h, nil
}

// dropHolder removes a holder whose stream ended, with its gate and its
// demotion; Prepare calls waiting for it stop waiting.
func (p *Producer) dropHolder(h *holder) {
	p.mu.Lock()
	wasDemoted := p.demotedLocked(h.group)
	h.dropped = true
	delete(p.holders[h.group], h)
	if len(p.holders[h.group]) == 0 {
		delete(p.holders, h.group)
	}
	for _, round := range h.pending {
		p.resolveLocked(round, h, busv1.GateOutcome_GATE_OUTCOME_DISCONNECTED, "its stream ended")
	}
	isDemoted := p.demotedLocked(h.group)
	p.mu.Unlock()

	p.logger.Info("bus holder gone", "group", h.group, "holder", h.name)
	p.demotionChanged(h.group, wasDemoted, isDemoted)
}

func (p *Producer) setDemotion(h *holder, demotion *busv1.Demotion) {
	p.mu.Lock()
	if h.dropped {
		p.mu.Unlock()
		return
	}
	wasDemoted := p.demotedLocked(h.group)
	h.demotion = demotion
	isDemoted := p.demotedLocked(h.group)
	p.mu.Unlock()

	p.logger.Info("bus holder demotion", "group", h.group, "holder", h.name, "demoted", demotion.GetDemoted(),
		"reason", demotion.GetReason())
	p.demotionChanged(h.group, wasDemoted, isDemoted)
}

// answer records a holder's answer to a Prepare. An answer that comes after
// the round ended is ignored.
func (p *Producer) answer(h *holder, prepareID uint64, outcome busv1.GateOutcome, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if round := h.pending[prepareID]; round != nil {
		p.resolveLocked(round, h, outcome, reason)
		return
	}
	p.logger.Debug("late or unknown gate answer ignored", "group", h.group, "holder", h.name, "prepare_id", prepareID)
}

func (p *Producer) demotionChanged(group string, was, is bool) {
	if was != is && p.onDemotion != nil {
		p.onDemotion(group)
	}
}
