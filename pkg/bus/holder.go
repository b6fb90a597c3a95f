package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// PrepareRequest is a producer's request to get ready before a group
// becomes primary.
type PrepareRequest struct {
	ID       uint64
	Group    string
	Target   State // StateMaster or StateActive
	Deadline time.Time
}

// PrepareFunc gets a gate holder ready for the takeover in req. Its ctx
// ends at the deadline or when the stream is lost, and it must return then.
// Returning nil answers ready; an error answers failed, with the error's
// text as the reason.
type PrepareFunc func(ctx context.Context, req PrepareRequest) error

// Holder keeps a registration on one group of a producer: a takeover gate
// when it has a PrepareFunc, and a demotion when [Holder.SetDemoted] says
// so. It re-registers, with its current demotion, whenever the stream is
// lost (producer restart, holder reconnect) until Run's ctx ends.
type Holder struct {
	dial    Dialer
	group   string
	name    string
	prepare PrepareFunc
	cfg     clientConfig

	// mu serialises sends on the stream (SetDemoted, answers) and guards
	// the demotion that every new registration carries.
	mu       sync.Mutex
	demotion *busv1.Demotion
	stream   busv1.Failover_HoldClient // registered stream, nil when not connected
}

// NewHolder returns a holder named name (e.g. "ctsyncd") for group. With a
// nil prepare it holds no gate, only its demotion. It starts nothing.
func NewHolder(dial Dialer, group, name string, prepare PrepareFunc, opts ...ClientOption) *Holder {
	return &Holder{
		dial:     dial,
		group:    group,
		name:     name,
		prepare:  prepare,
		cfg:      newClientConfig(opts),
		demotion: &busv1.Demotion{},
	}
}

// SetDemoted sets or clears the holder's demotion of the group. It may be
// called before Run (a holder that starts demoted registers demoted) and at
// any time after; it is sent again after every reconnect.
func (h *Holder) SetDemoted(demoted bool, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.demotion = &busv1.Demotion{Demoted: demoted, Reason: reason}
	if h.stream != nil {
		// If the stream just broke, Run re-registers with this demotion.
		_ = h.stream.Send(&busv1.HoldRequest{Request: &busv1.HoldRequest_Demotion{Demotion: h.demotion}})
	}
}

// Run holds the registration until ctx ends, then returns nil. Call it once.
func (h *Holder) Run(ctx context.Context) error {
	if h.group == "" || h.name == "" {
		return errors.New("a bus holder needs a group and a name")
	}
	retry := retrier{backoff: h.cfg.backoff}
	reported := false // the current outage was logged
	for {
		registered, err := h.holdOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if registered {
			reported = false
		}
		if !reported {
			h.cfg.logger.Warn("bus holder lost its registration, retrying", "group", h.group, "holder", h.name,
				"error", err)
			reported = true
		}
		if !retry.wait(ctx, registered) {
			return nil
		}
	}
}

// holdOnce registers on one stream and answers its Prepare requests until
// it breaks.
func (h *Holder) holdOnce(ctx context.Context) (registered bool, err error) {
	conn, err := h.dial(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var answering sync.WaitGroup
	defer answering.Wait() // after cancel: prepare functions see their ctx end
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stream, err := busv1.NewFailoverClient(conn).Hold(ctx)
	if err != nil {
		return false, fmt.Errorf("hold %s: %w", h.group, err)
	}
	if err := h.register(stream); err != nil {
		return false, fmt.Errorf("register on %s: %w", h.group, err)
	}
	defer h.unregister()
	resp, err := stream.Recv()
	if err != nil {
		return false, fmt.Errorf("register on %s: %w", h.group, err)
	}
	ack := resp.GetRegistered()
	if ack == nil {
		return false, fmt.Errorf("register on %s: the producer answered %T", h.group, resp.GetResponse())
	}
	h.cfg.logger.Info("bus holder registered", "group", h.group, "holder", h.name, "producer", ack.GetSource(),
		"boot_id", ack.GetBootId(), "gate", h.prepare != nil)

	for {
		resp, err := stream.Recv()
		if err != nil {
			return true, fmt.Errorf("lost the registration on %s with %s: %w", h.group, ack.GetSource(), err)
		}
		if request := resp.GetPrepare(); request != nil && h.prepare != nil {
			answering.Go(func() { h.answer(ctx, stream, request) })
		}
	}
}

// register sends the registration with the current demotion, and makes
// stream the one SetDemoted updates.
func (h *Holder) register(stream busv1.Failover_HoldClient) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := stream.Send(&busv1.HoldRequest{Request: &busv1.HoldRequest_Register{Register: &busv1.HoldRegister{
		Group:    h.group,
		Holder:   h.name,
		Gate:     h.prepare != nil,
		Demotion: h.demotion,
	}}})
	if err == nil {
		h.stream = stream
	}
	return err
}

func (h *Holder) unregister() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stream = nil
}

// answer runs the prepare function and answers on the stream that asked,
// unless that stream is gone or going (the holder stops, or lost the
// producer, which forgets the request with the stream).
func (h *Holder) answer(streamCtx context.Context, stream busv1.Failover_HoldClient, request *busv1.Prepare) {
	req := PrepareRequest{
		ID:       request.GetPrepareId(),
		Group:    request.GetGroup(),
		Target:   State(request.GetTargetState()),
		Deadline: request.GetDeadline().AsTime(),
	}
	ctx, cancel := context.WithDeadline(streamCtx, req.Deadline)
	defer cancel()
	started := time.Now()
	err := h.prepare(ctx, req)
	h.cfg.logger.Info("prepared for takeover", "group", req.Group, "holder", h.name, "prepare_id", req.ID,
		"duration", roundDuration(time.Since(started)), "error", err)
	if streamCtx.Err() != nil {
		return
	}

	answer := &busv1.HoldRequest{Request: &busv1.HoldRequest_Ready{Ready: &busv1.PrepareReady{PrepareId: req.ID}}}
	if err != nil {
		answer.Request = &busv1.HoldRequest_Failed{Failed: &busv1.PrepareFailed{PrepareId: req.ID, Reason: err.Error()}}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream == stream {
		_ = stream.Send(answer) // a broken stream shows in holdOnce's Recv
	}
}
