package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/pkg/daemon"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// monitorBuffer is how many log records a Monitor stream holds for a
// client that reads slower than they come; beyond it they are dropped,
// and the client is told how many.
const monitorBuffer = 256

// ShowLog returns the most recent log records kept in memory.
func (s *Server) ShowLog(_ context.Context, req *ctsyncv1.ShowLogRequest) (*ctsyncv1.ShowLogResponse, error) {
	if s.opts.Logs == nil {
		return nil, status.Error(codes.FailedPrecondition, "this ctsyncd keeps no log in memory: read its journal (journalctl -u ctsyncd)")
	}
	resp := &ctsyncv1.ShowLogResponse{}
	for _, e := range s.opts.Logs.Last(int(req.GetLines())) {
		resp.Records = append(resp.Records, logRecord(e))
	}
	return resp, nil
}

// Monitor streams the engine's events (state transitions, commits,
// resyncs, the peer coming and going), each completed with the status
// taken after it, and the log records (debug ones too with req.Debug),
// until the caller cancels or the daemon stops. Headers are sent once
// subscribed: nothing after them is missed. Log records the client is too
// slow for are dropped, never waited for, and a record says how many.
func (s *Server) Monitor(req *ctsyncv1.MonitorRequest, stream grpc.ServerStreamingServer[ctsyncv1.MonitorEvent]) error {
	ctx := stream.Context()
	events, cancel := s.engine.Subscribe()
	defer cancel()
	var logs *daemon.LogSubscription
	var records <-chan daemon.LogEntry
	if s.opts.Logs != nil {
		level := slog.LevelInfo
		if req.GetDebug() {
			level = slog.LevelDebug
		}
		logs = s.opts.Logs.Subscribe(level, monitorBuffer)
		defer logs.Close()
		records = logs.Records()
	}
	prev, err := s.status(ctx)
	if err != nil {
		return err
	}
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	stopping := status.Error(codes.Unavailable, "ctsyncd is stopping")
	var reported uint64
	for {
		var out *ctsyncv1.MonitorEvent
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return stopping
			}
			cur, err := s.engine.Status(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return stopping
			}
			out = monitorEvent(ev, prev, cur)
			prev = cur
		case e := <-records:
			out = &ctsyncv1.MonitorEvent{Event: &ctsyncv1.MonitorEvent_Log{Log: logRecord(e)}}
		}
		if err := stream.Send(out); err != nil {
			return err
		}
		if logs != nil && logs.Dropped() > reported {
			dropped := logs.Dropped()
			warn := &ctsyncv1.LogRecord{
				Time: timestamp(time.Now()), Level: slog.LevelWarn.String(),
				Message: "monitor: log records dropped, this client reads too slowly",
				Attrs:   []*ctsyncv1.LogAttr{{Key: "dropped", Value: strconv.FormatUint(dropped-reported, 10)}},
			}
			reported = dropped
			if err := stream.Send(&ctsyncv1.MonitorEvent{Event: &ctsyncv1.MonitorEvent_Log{Log: warn}}); err != nil {
				return err
			}
		}
	}
}

// monitorEvent is an engine event in the API's form, its figures from the
// status taken after it (cur; prev is the status before, for the state
// it left): the event says what happened, the status how much. The
// engine's "resync" events are the peer's full table arriving, which this
// node asks for (at start, on BACKUP, after a restart). An event of a kind
// this server does not know ("start", "stop") is passed on as a log
// record, so nothing is hidden.
func monitorEvent(ev engine.Event, prev, cur engine.Status) *ctsyncv1.MonitorEvent {
	t := ev.Time
	if t.IsZero() {
		t = cur.Now
	}
	switch ev.Kind {
	case "mode":
		// The producer's reason, as the status gives it; the event's text
		// repeats the states the line already shows.
		reason := cur.Reason
		if reason == "" {
			reason = ev.Message
		}
		return &ctsyncv1.MonitorEvent{Event: &ctsyncv1.MonitorEvent_StateChange{StateChange: &ctsyncv1.StateChange{
			Time: timestamp(t), From: stateMessage(prev.Mode), To: stateMessage(cur.Mode), Reason: reason,
		}}}
	case "commit":
		c := commitMessage(cur.LastCommit)
		if c == nil {
			c = &ctsyncv1.Commit{}
		}
		if c.Time == nil {
			c.Time = timestamp(t)
		}
		return &ctsyncv1.MonitorEvent{Event: &ctsyncv1.MonitorEvent_Commit{Commit: c}}
	case "resync":
		return &ctsyncv1.MonitorEvent{Event: &ctsyncv1.MonitorEvent_Resync{Resync: &ctsyncv1.Resync{
			Time: timestamp(t), Requested: true, Entries: uint64(max(cur.Main.ExternalLen, 0)), Reason: ev.Message,
		}}}
	case "peer":
		pc := &ctsyncv1.PeerChange{Time: timestamp(t), Alive: cur.Session.PeerAlive, Reason: ev.Message}
		if cur.Session.PeerKnown {
			pc.BootId = bootID(cur.Session.PeerBoot)
		}
		if cur.Config != nil && cur.Config.Peer.IsValid() {
			pc.Address = cur.Config.Peer.String()
		}
		return &ctsyncv1.MonitorEvent{Event: &ctsyncv1.MonitorEvent_PeerChange{PeerChange: pc}}
	}
	return &ctsyncv1.MonitorEvent{Event: &ctsyncv1.MonitorEvent_Log{Log: &ctsyncv1.LogRecord{
		Time: timestamp(t), Level: slog.LevelInfo.String(), Message: ev.Message,
		Attrs: []*ctsyncv1.LogAttr{{Key: "event", Value: ev.Kind}},
	}}}
}
