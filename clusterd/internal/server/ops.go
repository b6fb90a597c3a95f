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

	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/pkg/daemon"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// monitorBuffer is how many log records a Monitor stream holds for a
// client that reads slower than they come; beyond it they are dropped,
// and the client is told how many.
const monitorBuffer = 256

// ShowLog returns the most recent log records kept in memory.
func (s *Server) ShowLog(_ context.Context, req *clusterv1.ShowLogRequest) (*clusterv1.ShowLogResponse, error) {
	if s.opts.Logs == nil {
		return nil, status.Error(codes.FailedPrecondition, "this clusterd keeps no log in memory: read its journal (journalctl -u clusterd)")
	}
	resp := &clusterv1.ShowLogResponse{}
	for _, e := range s.opts.Logs.Last(int(req.GetLines())) {
		resp.Records = append(resp.Records, logRecord(e))
	}
	return resp, nil
}

// Monitor streams the nodes' and the resources' changes and the log
// records (debug ones too with req.Debug) until the caller cancels or the
// daemon stops. Changes are found by comparing the status before and
// after each transition of the engine, and every StatusPoll, so that a
// change of the peer that moves nothing here (it dies while this node is
// active) is seen too. Headers are sent once subscribed: nothing after
// them is missed. Log records the client is too slow for are dropped,
// never waited for, and a record says how many.
func (s *Server) Monitor(req *clusterv1.MonitorRequest, stream grpc.ServerStreamingServer[clusterv1.MonitorEvent]) error {
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
	st, err := s.status(ctx)
	if err != nil {
		return err
	}
	prev := statusMessage(st)
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	poll := time.NewTicker(s.opts.StatusPoll)
	defer poll.Stop()
	stopping := status.Error(codes.Unavailable, "clusterd is stopping")
	var reported uint64
	for {
		var out []*clusterv1.MonitorEvent
		var ev *engine.Event
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-events:
			if !ok {
				return stopping
			}
			ev = &e
		case <-poll.C:
		case e := <-records:
			out = append(out, &clusterv1.MonitorEvent{Event: &clusterv1.MonitorEvent_Log{Log: logRecord(e)}})
		}
		if out == nil { // a transition or a poll: compare the status
			st, err := s.engine.Status(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return stopping
			}
			cur := statusMessage(st)
			t, reason := st.Now, ""
			if ev != nil {
				t, reason = ev.Time, ev.Reason
			}
			if t.IsZero() {
				t = time.Now()
			}
			out = changes(prev, cur, t, reason)
			if ev != nil && !localChanged(out, cur.GetLocalNode()) && cur.GetEnabled() && cur.GetNotRunningReason() == "" {
				// A transition the status lines do not show (the end of
				// the startup wait): report it as the local node's.
				out = append(out, localChange(cur, *ev, st))
			}
			prev = cur
		}
		for _, e := range out {
			if err := stream.Send(e); err != nil {
				return err
			}
		}
		if logs != nil && logs.Dropped() > reported {
			dropped := logs.Dropped()
			warn := &clusterv1.LogRecord{
				Time: timestamp(time.Now()), Level: slog.LevelWarn.String(),
				Message: "monitor: log records dropped, this client reads too slowly",
				Attrs:   []*clusterv1.LogAttr{{Key: "dropped", Value: strconv.FormatUint(dropped-reported, 10)}},
			}
			reported = dropped
			if err := stream.Send(&clusterv1.MonitorEvent{Event: &clusterv1.MonitorEvent_Log{Log: warn}}); err != nil {
				return err
			}
		}
	}
}

// changes lists what differs between two statuses of the same group: each
// node whose state line changed, then the resources if their state or
// holder did. A reload that switches clustering on or off or renames the
// group is left to the log.
func changes(prev, cur *clusterv1.Status, t time.Time, reason string) []*clusterv1.MonitorEvent {
	if !prev.GetEnabled() || !cur.GetEnabled() || prev.GetGroup() != cur.GetGroup() {
		return nil
	}
	var out []*clusterv1.MonitorEvent
	for _, pair := range [][2]*clusterv1.Node{{prev.GetPrimary(), cur.GetPrimary()}, {prev.GetSecondary(), cur.GetSecondary()}} {
		was, is := pair[0], pair[1]
		if was.GetName() != is.GetName() || was.GetState() == is.GetState() {
			continue
		}
		out = append(out, &clusterv1.MonitorEvent{Event: &clusterv1.MonitorEvent_NodeChange{NodeChange: &clusterv1.NodeChange{
			Time: timestamp(t), Node: is.GetName(), Role: is.GetRole(), From: was.GetState(), To: is.GetState(), Reason: reason,
		}}})
	}
	was, is := prev.GetResources(), cur.GetResources()
	if was.GetState() != is.GetState() || was.GetHolder() != is.GetHolder() {
		out = append(out, &clusterv1.MonitorEvent{Event: &clusterv1.MonitorEvent_ResourceChange{ResourceChange: &clusterv1.ResourceChange{
			Time: timestamp(t), From: was.GetState(), To: is.GetState(), Holder: is.GetHolder(), Reason: reason,
		}}})
	}
	return out
}

// localChanged: one of events is the local node's.
func localChanged(events []*clusterv1.MonitorEvent, local string) bool {
	for _, e := range events {
		if e.GetNodeChange().GetNode() == local {
			return true
		}
	}
	return false
}

// localChange is an engine transition as the local node's change, its
// states in the words of the status lines.
func localChange(cur *clusterv1.Status, ev engine.Event, st engine.Status) *clusterv1.MonitorEvent {
	local := cur.GetPrimary()
	if !local.GetThisNode() {
		local = cur.GetSecondary()
	}
	word := func(s fsm.State) clusterv1.NodeState {
		switch s {
		case fsm.Active:
			return clusterv1.NodeState_NODE_STATE_ACTIVE
		case fsm.Standby:
			return clusterv1.NodeState_NODE_STATE_ACTIVE_STANDBY
		case fsm.Down:
			if st.View.LocalReachable < st.View.LocalTotal {
				return clusterv1.NodeState_NODE_STATE_DOWN_MONITOR
			}
			return clusterv1.NodeState_NODE_STATE_DOWN
		case fsm.Stopped:
			return clusterv1.NodeState_NODE_STATE_DOWN
		}
		return clusterv1.NodeState_NODE_STATE_UNKNOWN // INIT: the startup wait
	}
	return &clusterv1.MonitorEvent{Event: &clusterv1.MonitorEvent_NodeChange{NodeChange: &clusterv1.NodeChange{
		Time: timestamp(ev.Time), Node: local.GetName(), Role: local.GetRole(), From: word(ev.From), To: word(ev.To), Reason: ev.Reason,
	}}}
}
