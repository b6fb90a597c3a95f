package server

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/pkg/daemon"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/show"
)

// monitorBuffer is how many events a Monitor stream holds for a client
// that reads slower than they come; beyond it they are dropped, and the
// client is told how many.
const monitorBuffer = 256

// restartTimeout bounds a restart once it has begun: it goes on when the
// caller gives up, since stopping halfway would leave no group running.
const restartTimeout = 30 * time.Second

// Restart re-reads the configuration file, resigns every group (priority-0
// advert, VIPs and VRRP interfaces removed), and starts every group again
// from INIT with fresh counters (VR-O06, VR-B12). A file with errors
// refuses the restart and changes nothing.
func (s *Server) Restart(ctx context.Context, _ *vrrpv1.RestartRequest) (*vrrpv1.RestartResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := os.ReadFile(s.opts.ConfigFile)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "read the configuration %s: %v; nothing restarted", s.opts.ConfigFile, err)
	}
	next, diags := Check(s.opts.ConfigFile, src, s.opts.ScriptsDir)
	if next == nil {
		s.opts.Logger.Warn("restart refused: the configuration has errors", "file", s.opts.ConfigFile)
		return nil, status.Errorf(codes.FailedPrecondition, "the configuration has errors, nothing restarted:\n%s",
			strings.TrimSuffix(show.Diagnostics(diags), "\n"))
	}
	s.opts.Logger.Info("restarting VRRP: every group resigns and starts again from INIT", "file", s.opts.ConfigFile)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restartTimeout)
	defer cancel()
	if err := s.engine.Shutdown(ctx); err != nil {
		return nil, engineError(err)
	}
	// From here the old configuration is gone, whatever Apply says: a
	// group that fails to start is reported, and a reload retries it.
	s.current = next
	if err := s.engine.Apply(ctx, next); err != nil {
		return nil, engineError(err)
	}
	s.opts.Logger.Info("VRRP restarted", "groups", len(next.Groups))
	return &vrrpv1.RestartResponse{Diagnostics: diags}, nil
}

// ShowLog returns the most recent log records kept in memory (VR-O08).
func (s *Server) ShowLog(_ context.Context, req *vrrpv1.ShowLogRequest) (*vrrpv1.ShowLogResponse, error) {
	if s.opts.Logs == nil {
		return nil, status.Error(codes.FailedPrecondition, "this vrrpd keeps no log in memory: read its journal (journalctl -u vrrpd)")
	}
	resp := &vrrpv1.ShowLogResponse{}
	for _, e := range s.opts.Logs.Last(int(req.GetLines())) {
		resp.Records = append(resp.Records, logRecord(e))
	}
	return resp, nil
}

// SetDebugLogging moves the daemon's log level to debug, or back to its
// --log-level (at least info) (VR-O09 background start|stop).
func (s *Server) SetDebugLogging(_ context.Context, req *vrrpv1.SetDebugLoggingRequest) (*vrrpv1.SetDebugLoggingResponse, error) {
	if s.opts.LogLevel == nil {
		return nil, status.Error(codes.FailedPrecondition, "this vrrpd cannot change its log level at run time")
	}
	level := max(s.opts.BaseLogLevel, slog.LevelInfo)
	if req.GetEnabled() {
		level = slog.LevelDebug
	}
	s.opts.LogLevel.Set(level)
	// Logged at warn, so the change shows whatever the level.
	s.opts.Logger.Warn("log level changed", "level", level.String())
	return &vrrpv1.SetDebugLoggingResponse{}, nil
}

// Monitor streams the transitions of the groups matching the filter and
// the log records (debug ones too with req.Debug) until the caller cancels
// or the daemon stops (VR-O09). Headers are sent once subscribed, so a
// client knows that nothing after them is missed. Events the client is too
// slow for are dropped, never waited for, and a record says how many.
func (s *Server) Monitor(req *vrrpv1.MonitorRequest, stream grpc.ServerStreamingServer[vrrpv1.MonitorEvent]) error {
	filter := req.GetFilter()
	if filter.GetGroup() != 0 && filter.GetInterface() == "" {
		return status.Error(codes.InvalidArgument, "a group filter needs its interface")
	}
	changes := s.engine.Monitor(monitorBuffer)
	defer changes.Close()
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
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	var reported uint64
	ctx := stream.Context()
	for {
		var ev *vrrpv1.MonitorEvent
		select {
		case <-ctx.Done():
			return nil
		case <-s.engine.Done():
			return status.Error(codes.Unavailable, "vrrpd is stopping")
		case c := <-changes.Changes():
			if matches(filter, groupOf(c.Group.Interface, c.Group.VRID)) {
				ev = &vrrpv1.MonitorEvent{Event: &vrrpv1.MonitorEvent_StateChange{StateChange: stateChange(c)}}
			}
		case e := <-records:
			if logMatches(filter, e) {
				ev = &vrrpv1.MonitorEvent{Event: &vrrpv1.MonitorEvent_Log{Log: logRecord(e)}}
			}
		}
		if ev != nil {
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
		dropped := changes.Dropped()
		if logs != nil {
			dropped += logs.Dropped()
		}
		if dropped > reported {
			warn := &vrrpv1.LogRecord{
				Time: timestamp(time.Now()), Level: slog.LevelWarn.String(),
				Message: "monitor: events dropped, this client reads too slowly",
				Attrs:   []*vrrpv1.LogAttr{{Key: "dropped", Value: strconv.FormatUint(dropped-reported, 10)}},
			}
			reported = dropped
			if err := stream.Send(&vrrpv1.MonitorEvent{Event: &vrrpv1.MonitorEvent_Log{Log: warn}}); err != nil {
				return err
			}
		}
	}
}

// logMatches keeps, under a group filter, the records naming a matching
// group and those naming none (the daemon's own).
func logMatches(f *vrrpv1.GroupFilter, e daemon.LogEntry) bool {
	if f.GetInterface() == "" {
		return true
	}
	name, ok := e.Attr("group")
	if !ok {
		return true
	}
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return false
	}
	vrid, err := strconv.ParseUint(name[i+1:], 10, 8)
	if err != nil {
		return false // a sync group
	}
	return matches(f, groupOf(name[:i], uint8(vrid)))
}

// groupOf is enough of a group for matches.
func groupOf(ifname string, vrid uint8) config.Group {
	return config.Group{Interface: ifname, VRID: vrid}
}
