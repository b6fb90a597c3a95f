// Package server serves vrrpd's operational API (proto/hasuite/vrrp/v1) as
// thin adapters over the engine: each RPC asks the engine or the
// configuration package and converts the answer into API messages, and
// engine errors become gRPC status codes the CLI can act on.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/pkg/daemon"
	"github.com/hasuite/hasuite/pkg/hook"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/engine"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
	"github.com/hasuite/hasuite/vrrpd/internal/kernel"
)

// defaultValidateFile names the text of a Validate request that names none.
const defaultValidateFile = "vrrpd.conf"

// Server implements vrrpv1.VrrpServer; the operational commands (Restart,
// ShowLog, Monitor, SetDebugLogging) are in ops.go.
type Server struct {
	vrrpv1.UnimplementedVrrpServer

	engine *engine.Engine
	opts   Options

	// mu serialises reloads and guards current, the configuration the
	// engine runs.
	mu      sync.Mutex
	current *config.Config
}

// Options are what the server needs beside the engine.
type Options struct {
	// Kernel answers `show interfaces vrrp`.
	Kernel kernel.Kernel
	// ConfigFile is read again by Reload.
	ConfigFile string
	// ScriptsDir resolves relative transition script names (see Check).
	ScriptsDir string
	// Current is the configuration the engine runs now.
	Current *config.Config
	Logger  *slog.Logger
	// Logs holds the daemon's recent log records for ShowLog and Monitor;
	// without it they answer FailedPrecondition.
	Logs *daemon.LogRing
	// LogLevel is the daemon's log level, which SetDebugLogging moves
	// between debug and BaseLogLevel (--log-level, at least info).
	LogLevel     *slog.LevelVar
	BaseLogLevel slog.Level
}

// New returns a server over eng. It starts nothing.
func New(eng *engine.Engine, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{engine: eng, opts: opts, current: opts.Current}
}

// Check validates a configuration text the way a load or reload does:
// the schema's errors and warnings, then every transition script it names
// must be runnable, so a bad script fails the reload rather than the
// failover. It returns the configuration only when there is no error.
func Check(file string, src []byte, scriptsDir string) (*config.Config, []*vrrpv1.Diagnostic) {
	warnings, err := config.Validate(file, src)
	diags := diagnostics(err, warnings)
	if err != nil {
		return nil, diags
	}
	cfg, err := config.Parse(file, src)
	if err != nil {
		return nil, diagnostics(err, nil)
	}
	failed := false
	for _, script := range cfg.Scripts() {
		if err := hook.Check(hook.Resolve(scriptsDir, script)); err != nil {
			failed = true
			diags = append(diags, &vrrpv1.Diagnostic{
				Severity: vrrpv1.Severity_SEVERITY_ERROR, File: file, Message: "transition script: " + err.Error(),
			})
		}
	}
	if failed {
		return nil, diags
	}
	return cfg, diags
}

// ShowVrrp returns the groups matching the filter.
func (s *Server) ShowVrrp(ctx context.Context, req *vrrpv1.ShowVrrpRequest) (*vrrpv1.ShowVrrpResponse, error) {
	groups, err := s.status(ctx, req.GetFilter())
	if err != nil {
		return nil, err
	}
	resp := &vrrpv1.ShowVrrpResponse{}
	for _, g := range groups {
		resp.Groups = append(resp.Groups, groupMessage(g))
	}
	return resp, nil
}

// ShowStatistics returns the counters of the groups matching the filter.
func (s *Server) ShowStatistics(ctx context.Context, req *vrrpv1.ShowStatisticsRequest) (*vrrpv1.ShowStatisticsResponse, error) {
	groups, err := s.status(ctx, req.GetFilter())
	if err != nil {
		return nil, err
	}
	resp := &vrrpv1.ShowStatisticsResponse{}
	for _, g := range groups {
		resp.Groups = append(resp.Groups, statisticsMessage(g))
	}
	return resp, nil
}

// ShowSyncGroups returns each sync group with its members. A sync group's
// state is its members' common state, MASTER if any member is (the
// coordinator moves them together, so they differ only for an instant).
func (s *Server) ShowSyncGroups(ctx context.Context, req *vrrpv1.ShowSyncGroupsRequest) (*vrrpv1.ShowSyncGroupsResponse, error) {
	groups, err := s.status(ctx, nil)
	if err != nil {
		return nil, err
	}
	byName := map[string]*vrrpv1.SyncGroup{}
	for _, g := range groups {
		name := g.Config.SyncGroup
		if name == "" || (req.GetName() != "" && name != req.GetName()) {
			continue
		}
		sg := byName[name]
		if sg == nil {
			sg = &vrrpv1.SyncGroup{Name: name, State: stateMessage(g.State)}
			byName[name] = sg
		}
		if sg.LastTransition == nil || g.LastTransition.After(sg.LastTransition.AsTime()) {
			sg.LastTransition, sg.StateReason = timestamp(g.LastTransition), g.LastReason
		}
		if g.State == fsm.Master {
			sg.State = vrrpv1.State_STATE_MASTER
		}
		sg.Members = append(sg.Members, groupRef(g.Config.Key))
	}
	if req.GetName() != "" && len(byName) == 0 {
		return nil, status.Errorf(codes.NotFound, "no sync group %q: check `show vrrp sync-group`", req.GetName())
	}
	resp := &vrrpv1.ShowSyncGroupsResponse{}
	for _, sg := range byName {
		slices.SortFunc(sg.Members, compareRefs)
		resp.SyncGroups = append(resp.SyncGroups, sg)
	}
	slices.SortFunc(resp.SyncGroups, func(a, b *vrrpv1.SyncGroup) int { return strings.Compare(a.Name, b.Name) })
	return resp, nil
}

// ShowInterfaces returns, per group, the interface its virtual addresses
// live on as the kernel has it: the VRRP interface (macvlan) of an RFC 3768
// group, the parent of a legacy-mode group, whose addresses are then only
// the group's VIPs it holds.
func (s *Server) ShowInterfaces(ctx context.Context, req *vrrpv1.ShowInterfacesRequest) (*vrrpv1.ShowInterfacesResponse, error) {
	groups, err := s.status(ctx, nil)
	if err != nil {
		return nil, err
	}
	resp := &vrrpv1.ShowInterfacesResponse{}
	for _, g := range groups {
		c := g.Config
		if !c.RFC3768 {
			continue // VR-O07: legacy mode has no VRRP interface
		}
		msg := &vrrpv1.VrrpInterface{
			Name: c.VRRPInterface.Name, Parent: c.Interface, Group: uint32(c.VRID),
			Description: c.VRRPInterface.Description, Mac: c.VRRPInterface.MAC.String(),
		}
		if req.GetName() != "" && msg.Name != req.GetName() {
			continue
		}
		// The macvlan exists only while the group runs; until then it is
		// shown down with no address.
		if ifc, err := s.opts.Kernel.Interface(ctx, msg.Name); err == nil {
			fillInterface(msg, ifc, c)
		}
		resp.Interfaces = append(resp.Interfaces, msg)
	}
	if req.GetName() != "" && len(resp.Interfaces) == 0 {
		return nil, status.Errorf(codes.NotFound, "no VRRP interface %q: check `show interfaces vrrp`", req.GetName())
	}
	slices.SortStableFunc(resp.Interfaces, func(a, b *vrrpv1.VrrpInterface) int { return strings.Compare(a.Name, b.Name) })
	return resp, nil
}

// ResetMaster makes a MASTER group, and with it its sync group, resign.
func (s *Server) ResetMaster(ctx context.Context, req *vrrpv1.ResetMasterRequest) (*vrrpv1.ResetMasterResponse, error) {
	ref := req.GetGroup()
	if ref.GetGroup() < 1 || ref.GetGroup() > 255 || ref.GetInterface() == "" {
		return nil, status.Error(codes.InvalidArgument, "name the group: an interface and a group id 1-255")
	}
	key := config.GroupKey{Interface: ref.GetInterface(), VRID: uint8(ref.GetGroup())}
	groups, err := s.status(ctx, nil)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(groups, func(g engine.GroupStatus) bool { return g.Config.Key == key })
	if i < 0 {
		return nil, status.Errorf(codes.NotFound, "no VRRP group %s: check `show vrrp`", key)
	}
	target := groups[i]
	if target.State != fsm.Master {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not in MASTER state (it is %s)", key, target.State)
	}
	if err := s.engine.ResetMaster(ctx, key); err != nil {
		return nil, engineError(err)
	}
	resp := &vrrpv1.ResetMasterResponse{
		Released: []*vrrpv1.GroupRef{groupRef(key)},
		// A MASTER has heard no higher priority (that would have made it
		// BACKUP), so with preemption it takes the role back.
		PreemptWillRetake: target.Config.Preempt,
		PreemptDelay:      duration(target.Config.PreemptDelay),
	}
	if sync := target.Config.SyncGroup; sync != "" {
		for _, g := range groups {
			if g.Config.SyncGroup == sync && g.Config.Key != key && g.State == fsm.Master {
				resp.Released = append(resp.Released, groupRef(g.Config.Key))
			}
		}
	}
	return resp, nil
}

// Reload reads the configuration file again and applies it when it is
// valid; with any error the running configuration stays as it is.
func (s *Server) Reload(ctx context.Context, _ *vrrpv1.ReloadRequest) (*vrrpv1.ReloadResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := os.ReadFile(s.opts.ConfigFile)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "read the configuration %s: %v", s.opts.ConfigFile, err)
	}
	next, diags := Check(s.opts.ConfigFile, src, s.opts.ScriptsDir)
	if next == nil {
		s.opts.Logger.Warn("configuration not reloaded: it has errors", "file", s.opts.ConfigFile)
		return &vrrpv1.ReloadResponse{Diagnostics: diags}, nil
	}
	if err := s.engine.Apply(ctx, next); err != nil {
		return nil, engineError(fmt.Errorf("apply the new configuration: %w", err))
	}
	resp := &vrrpv1.ReloadResponse{Applied: true, Diagnostics: diags, Changes: changes(s.current, next)}
	s.current = next
	s.opts.Logger.Info("configuration reloaded", "file", s.opts.ConfigFile, "changes", len(resp.Changes))
	return resp, nil
}

// changes is one line per group a reload added, removed or changed.
func changes(old, next *config.Config) []string {
	added, removed, changed, _ := config.Diff(old, next)
	var lines []string
	for _, set := range []struct {
		keys []config.GroupKey
		verb string
	}{{added, "added"}, {removed, "removed"}, {changed, "changed"}} {
		for _, k := range set.keys {
			lines = append(lines, k.String()+": "+set.verb)
		}
	}
	return lines
}

// Validate checks a configuration text without applying it.
func (s *Server) Validate(_ context.Context, req *vrrpv1.ValidateRequest) (*vrrpv1.ValidateResponse, error) {
	file := req.GetFile()
	if file == "" {
		file = defaultValidateFile
	}
	_, diags := Check(file, []byte(req.GetText()), s.opts.ScriptsDir)
	return &vrrpv1.ValidateResponse{Diagnostics: diags}, nil
}

// status returns the engine's groups that match filter, sorted by
// interface, then group.
func (s *Server) status(ctx context.Context, filter *vrrpv1.GroupFilter) ([]engine.GroupStatus, error) {
	if filter.GetGroup() != 0 && filter.GetInterface() == "" {
		return nil, status.Error(codes.InvalidArgument, "a group filter needs its interface")
	}
	all, err := s.engine.Status(ctx)
	if err != nil {
		return nil, engineError(err)
	}
	var out []engine.GroupStatus
	for _, g := range all {
		if matches(filter, g.Config) {
			out = append(out, g)
		}
	}
	if filter.GetInterface() != "" && len(out) == 0 {
		return nil, status.Errorf(codes.NotFound, "no VRRP group matches interface %s group %d: check `show vrrp`",
			filter.GetInterface(), filter.GetGroup())
	}
	slices.SortFunc(out, func(a, b engine.GroupStatus) int { return compareRefs(groupRef(a.Config.Key), groupRef(b.Config.Key)) })
	return out, nil
}

// matches applies a GroupFilter: a physical interface also matches its
// vifs ("eth1" matches "eth1.4001").
func matches(f *vrrpv1.GroupFilter, g config.Group) bool {
	if ifname := f.GetInterface(); ifname != "" && g.Interface != ifname && !strings.HasPrefix(g.Interface, ifname+".") {
		return false
	}
	return f.GetGroup() == 0 || f.GetGroup() == uint32(g.VRID)
}

// engineError maps an engine error to a status the CLI can explain.
func engineError(err error) error {
	switch {
	case errors.Is(err, engine.ErrUnknownGroup):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, engine.ErrStopped):
		return status.Error(codes.Unavailable, "vrrpd is shutting down: retry once it has restarted")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}
