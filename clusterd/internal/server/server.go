// Package server serves clusterd's operational API
// (proto/hasuite/cluster/v1) as thin adapters over the engine: each RPC
// asks the engine or the configuration package and converts the answer
// into API messages, which clusterd/internal/show renders; engine errors
// become gRPC status codes the CLI can act on. No message carries the
// pre-shared secret (CL-C13).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/engine"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/pkg/daemon"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// defaultValidateFile names the text of a Validate request that names none.
const defaultValidateFile = "clusterd.conf"

// Engine is what the server needs of clusterd's engine (the contract in
// clusterd/internal/engine/api.go); every method runs on the engine's loop
// and fails with engine.ErrStopped when it is not running.
type Engine interface {
	Apply(ctx context.Context, cfg *config.Config) (changes []string, err error)
	Status(ctx context.Context) (engine.Status, error)
	Standby(ctx context.Context) error
	Takeover(ctx context.Context) error
	Subscribe() (events <-chan engine.Event, cancel func())
}

// Server implements clusterv1.ClusterServer; ShowLog and Monitor are in
// ops.go, the metrics collector in metrics.go.
type Server struct {
	clusterv1.UnimplementedClusterServer

	engine Engine
	opts   Options

	// mu serialises reloads and standby/takeover requests.
	mu sync.Mutex
}

// Options are what the server needs beside the engine.
type Options struct {
	// ConfigFile is read again by Reload.
	ConfigFile string
	// Services says where init and resource scripts are looked up, so a
	// reload that names a missing script fails and changes nothing
	// (only InitDir, ResourceDirs, SystemdDir matter).
	Services resources.Options
	Logger   *slog.Logger
	// Logs holds the daemon's recent log records for ShowLog and Monitor;
	// without it they answer FailedPrecondition.
	Logs *daemon.LogRing
	// Started is when the daemon started counting (`show cluster
	// statistics`); zero means when New was called.
	Started time.Time
	// StatusPoll is how often a Monitor stream looks for changes no
	// transition announces (the peer dying while this node is active);
	// zero means a second.
	StatusPoll time.Duration
}

// New returns a server over eng. It starts nothing.
func New(eng Engine, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	if opts.StatusPoll <= 0 {
		opts.StatusPoll = time.Second
	}
	return &Server{engine: eng, opts: opts}
}

// Check validates a configuration text the way a load or reload does: the
// schema's errors and warnings, then every init and resource script the
// group names must be found, so a bad script fails the reload rather than
// the failover. It returns the configuration only when there is no error.
// No diagnostic repeats the pre-shared secret (CL-C13).
func Check(file string, src []byte, services resources.Options) (*config.Config, []*clusterv1.Diagnostic) {
	warnings, err := config.Validate(file, src)
	diags := hideSecret(src, diagnostics(err, warnings))
	if err != nil {
		return nil, diags
	}
	cfg, err := config.Parse(file, src)
	if err != nil {
		return nil, hideSecret(src, diagnostics(err, nil))
	}
	if scripts := cfg.Scripts(); len(scripts) > 0 {
		if err := resources.Check(scripts, services); err != nil {
			for _, e := range splitErrors(err) {
				diags = append(diags, &clusterv1.Diagnostic{
					Severity: clusterv1.Severity_SEVERITY_ERROR, File: file, Path: "cluster group " + cfg.Group.Name + " service",
					Message: e.Error(),
				})
			}
			return nil, diags
		}
	}
	return cfg, diags
}

// splitErrors undoes errors.Join, so each missing script is one line.
func splitErrors(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	return []error{err}
}

// secretLine finds the rest of a `pre-shared-secret` line, even in a file
// too broken to parse: the value and whatever a typo left after it.
var secretLine = regexp.MustCompile(`pre-shared-secret[ \t]+([^\n]*)`)

// hideSecret replaces the secret, wherever a message repeats it (a
// parser quoting the token it stumbled on, a stray word of the secret
// read as a node name), by asterisks (CL-C13).
func hideSecret(src []byte, diags []*clusterv1.Diagnostic) []*clusterv1.Diagnostic {
	var secrets []string
	for _, m := range secretLine.FindAllSubmatch(src, -1) {
		for _, field := range strings.Fields(string(m[1])) {
			if strings.HasPrefix(field, "#") || strings.HasPrefix(field, "/*") || strings.HasPrefix(field, "//") {
				break
			}
			secrets = append(secrets, field)
			if unquoted, err := strconv.Unquote(field); err == nil {
				secrets = append(secrets, unquoted)
			}
		}
	}
	for _, d := range diags {
		for _, s := range secrets {
			if len(s) >= 3 { // shorter would blank out ordinary words and braces
				d.Message = strings.ReplaceAll(d.Message, s, "********")
				d.Path = strings.ReplaceAll(d.Path, s, "********")
			}
		}
	}
	return diags
}

// ShowStatus returns the group as this node sees it (CL-O01).
func (s *Server) ShowStatus(ctx context.Context, _ *clusterv1.ShowStatusRequest) (*clusterv1.ShowStatusResponse, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	return &clusterv1.ShowStatusResponse{Status: statusMessage(st)}, nil
}

// ShowNodes returns the primary, then the secondary, with their identity
// and heartbeat links; none when clustering is off.
func (s *Server) ShowNodes(ctx context.Context, _ *clusterv1.ShowNodesRequest) (*clusterv1.ShowNodesResponse, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	msg := statusMessage(st)
	if !msg.Enabled {
		return &clusterv1.ShowNodesResponse{}, nil
	}
	return &clusterv1.ShowNodesResponse{Nodes: []*clusterv1.Node{msg.Primary, msg.Secondary}}, nil
}

// ShowStatistics returns the counters since the daemon started.
func (s *Server) ShowStatistics(ctx context.Context, _ *clusterv1.ShowStatisticsRequest) (*clusterv1.ShowStatisticsResponse, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	return statisticsMessage(st, s.opts.Started), nil
}

// Reload reads the configuration file again and applies it when it is
// valid; with any error the running configuration stays as it is (CL-B23).
func (s *Server) Reload(ctx context.Context, _ *clusterv1.ReloadRequest) (*clusterv1.ReloadResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := os.ReadFile(s.opts.ConfigFile)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "read the configuration %s: %v; nothing changed", s.opts.ConfigFile, err)
	}
	next, diags := Check(s.opts.ConfigFile, src, s.opts.Services)
	if next == nil {
		s.opts.Logger.Warn("configuration not reloaded: it has errors", "file", s.opts.ConfigFile)
		return &clusterv1.ReloadResponse{Diagnostics: diags}, nil
	}
	changes, err := s.engine.Apply(ctx, next)
	if err != nil {
		return nil, engineError(fmt.Errorf("apply the new configuration: %w", err))
	}
	s.opts.Logger.Info("configuration reloaded", "file", s.opts.ConfigFile, "changes", len(changes))
	return &clusterv1.ReloadResponse{Applied: true, Diagnostics: diags, Changes: changes}, nil
}

// Validate checks a configuration text without applying it.
func (s *Server) Validate(_ context.Context, req *clusterv1.ValidateRequest) (*clusterv1.ValidateResponse, error) {
	file := req.GetFile()
	if file == "" {
		file = defaultValidateFile
	}
	_, diags := Check(file, []byte(req.GetText()), s.opts.Services)
	return &clusterv1.ValidateResponse{Diagnostics: diags}, nil
}

// Standby gives the resources this node holds to the peer (hb_standby).
func (s *Server) Standby(ctx context.Context, _ *clusterv1.StandbyRequest) (*clusterv1.StandbyResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.member(ctx, "standby")
	if err != nil {
		return nil, err
	}
	if err := s.engine.Standby(ctx); err != nil {
		return nil, commandError("standby", err)
	}
	peer := peerName(st)
	s.opts.Logger.Info("manual standby: giving the resources to the peer", "group", st.Config.Group.BusName(), "peer", peer)
	return &clusterv1.StandbyResponse{Failover: &clusterv1.Failover{
		Time: timestamp(time.Now()), FromNode: st.NodeName, ToNode: peer, Reason: "manual standby",
	}}, nil
}

// Takeover asks the peer for the resources (hb_takeover).
func (s *Server) Takeover(ctx context.Context, _ *clusterv1.TakeoverRequest) (*clusterv1.TakeoverResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.member(ctx, "takeover")
	if err != nil {
		return nil, err
	}
	if err := s.engine.Takeover(ctx); err != nil {
		return nil, commandError("takeover", err)
	}
	from := ""
	if st.View.Holder == fsm.HolderPeer {
		from = peerName(st)
	}
	s.opts.Logger.Info("manual takeover: taking the resources", "group", st.Config.Group.BusName(), "from", from)
	return &clusterv1.TakeoverResponse{Failover: &clusterv1.Failover{
		Time: timestamp(time.Now()), FromNode: from, ToNode: st.NodeName, Reason: "manual takeover",
	}}, nil
}

// member returns the status when this node runs the group, else why the
// command cannot apply.
func (s *Server) member(ctx context.Context, command string) (engine.Status, error) {
	st, err := s.status(ctx)
	switch {
	case err != nil:
		return st, err
	case !st.Configured || st.Config == nil || !st.Config.Enabled:
		return st, status.Errorf(codes.FailedPrecondition, "cannot %s: clustering is not configured (CL-C01)", command)
	case st.NotMember:
		return st, status.Errorf(codes.FailedPrecondition,
			"cannot %s: this node %s is neither primary %s nor secondary %s (check --node-name)",
			command, st.NodeName, st.Config.Group.Primary, st.Config.Group.Secondary)
	}
	return st, nil
}

func peerName(st engine.Status) string {
	g := &st.Config.Group
	return g.Peer(g.RoleOf(st.NodeName))
}

func (s *Server) status(ctx context.Context) (engine.Status, error) {
	st, err := s.engine.Status(ctx)
	if err != nil {
		return st, engineError(err)
	}
	return st, nil
}

// commandError: the engine's refusal of a standby or takeover says why
// not, a precondition the operator can change.
func commandError(command string, err error) error {
	if errors.Is(err, engine.ErrStopped) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return engineError(err)
	}
	return status.Errorf(codes.FailedPrecondition, "cannot %s: %v", command, err)
}

// engineError maps an engine error to a status the CLI can explain.
func engineError(err error) error {
	switch {
	case errors.Is(err, engine.ErrStopped):
		return status.Error(codes.Unavailable, "clusterd is shutting down: retry once it has restarted")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}
