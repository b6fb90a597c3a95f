// Package server serves ctsyncd's operational API
// (proto/hasuite/ctsync/v1) as thin adapters over the engine: each RPC
// asks the engine (the contract in ctsyncd/internal/engine/api.go) or the
// configuration package and converts the answer into API messages, which
// ctsyncd/internal/show renders; engine errors become gRPC status codes
// whose messages say what to do. No message carries the sync secret.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/engine"
	"github.com/hasuite/hasuite/ctsyncd/internal/show"
	"github.com/hasuite/hasuite/pkg/daemon"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// defaultValidateFile names the text of a Validate request that names none.
const defaultValidateFile = "ctsyncd.conf"

// Engine is what the server needs of ctsyncd's engine (api.go's method
// list); every method runs on the engine's loop and fails with
// engine.ErrStopped when it is not running.
type Engine interface {
	Apply(ctx context.Context, cfg *config.Config) (changes []string, err error)
	Status(ctx context.Context) (engine.Status, error)
	Cache(ctx context.Context, which engine.Which, main, expect bool) (engine.Snapshot, error)
	Reset(ctx context.Context, which engine.Which) error
	Restart(ctx context.Context) error
	Subscribe() (events <-chan engine.Event, cancel func())
}

// Server implements ctsyncv1.CtsyncServer; ShowLog and Monitor are in
// ops.go, the metrics collector in metrics.go.
type Server struct {
	ctsyncv1.UnimplementedCtsyncServer

	engine Engine
	opts   Options

	// mu serialises the commands that change the engine (reload, reset,
	// restart), so that two operators do not interleave them, and guards
	// since.
	mu    sync.Mutex
	since time.Time
}

// Options are what the server needs beside the engine.
type Options struct {
	// ConfigFile is read again by Reload.
	ConfigFile string
	Logger     *slog.Logger
	// Logs holds the daemon's recent log records for ShowLog and Monitor;
	// without it they answer FailedPrecondition.
	Logs *daemon.LogRing
	// Started is when the counters started (daemon start); zero means when
	// New was called. A restart moves it (CS-B17: counters reset).
	Started time.Time
	// Now is the clock of the statistics' start after a restart; nil is
	// time.Now.
	Now func() time.Time
}

// New returns a server over eng. It starts nothing.
func New(eng Engine, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Started.IsZero() {
		opts.Started = opts.Now()
	}
	return &Server{engine: eng, opts: opts, since: opts.Started}
}

// Check validates a configuration text the way a load or reload does:
// every error and warning of the schema, each with file:line:col. It
// returns the configuration only when there is no error. No diagnostic
// repeats the secret.
func Check(file string, src []byte) (*config.Config, []*ctsyncv1.Diagnostic) {
	warnings, err := config.Validate(file, src)
	diags := hideSecret(src, diagnostics(err, warnings))
	if err != nil {
		return nil, diags
	}
	cfg, err := config.Parse(file, src)
	if err != nil {
		return nil, hideSecret(src, diagnostics(err, nil))
	}
	return cfg, diags
}

// ShowStatus returns the sync state (CS-O01).
func (s *Server) ShowStatus(ctx context.Context, _ *ctsyncv1.ShowStatusRequest) (*ctsyncv1.ShowStatusResponse, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	return &ctsyncv1.ShowStatusResponse{Status: statusMessage(st)}, nil
}

// ShowStatistics returns both tables' counters since the daemon started
// or was last restarted (CS-O03); the renderer selects the table.
func (s *Server) ShowStatistics(ctx context.Context, _ *ctsyncv1.ShowStatisticsRequest) (*ctsyncv1.ShowStatisticsResponse, error) {
	st, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	since := s.since
	s.mu.Unlock()
	return statisticsMessage(st, since), nil
}

// ShowCache streams one cache (CS-O02): the header, then the main table's
// entries, then the expectations, in chunks of at most MaxCacheChunk. The
// engine copies the cache on its loop; the conversion and the sending
// happen here, off the loop, chunk by chunk.
func (s *Server) ShowCache(req *ctsyncv1.ShowCacheRequest, stream grpc.ServerStreamingServer[ctsyncv1.ShowCacheResponse]) error {
	ctx := stream.Context()
	which, err := whichCache(req.GetCache())
	if err != nil {
		return err
	}
	st, err := s.status(ctx)
	if err != nil {
		return err
	}
	header := &ctsyncv1.CacheHeader{Cache: req.GetCache(), Table: req.GetTable()}
	if !enabled(st) {
		return stream.Send(&ctsyncv1.ShowCacheResponse{Chunk: &ctsyncv1.ShowCacheResponse_Header{Header: header}})
	}
	header.Enabled = true
	header.ExpectSync = len(st.Config.Expect) > 0
	wantMain := req.GetTable() != ctsyncv1.Table_TABLE_EXPECT
	wantExpect := req.GetTable() != ctsyncv1.Table_TABLE_MAIN && header.ExpectSync
	snap, err := s.engine.Cache(ctx, which, wantMain, wantExpect)
	if err != nil {
		return engineError(err)
	}
	header.MainEntries, header.ExpectEntries = uint64(len(snap.Main)), uint64(len(snap.Expect))
	if err := stream.Send(&ctsyncv1.ShowCacheResponse{Chunk: &ctsyncv1.ShowCacheResponse_Header{Header: header}}); err != nil {
		return err
	}
	size := chunkSize(req.GetChunkSize())
	for start := 0; start < len(snap.Main); start += size {
		part := snap.Main[start:min(start+size, len(snap.Main))]
		chunk := &ctsyncv1.EntryChunk{Entries: make([]*ctsyncv1.Entry, len(part))}
		for i := range part {
			chunk.Entries[i] = show.EntryProto(&part[i])
		}
		if err := stream.Send(&ctsyncv1.ShowCacheResponse{Chunk: &ctsyncv1.ShowCacheResponse_Entries{Entries: chunk}}); err != nil {
			return err
		}
	}
	for start := 0; start < len(snap.Expect); start += size {
		part := snap.Expect[start:min(start+size, len(snap.Expect))]
		chunk := &ctsyncv1.ExpectChunk{Expects: make([]*ctsyncv1.Expect, len(part))}
		for i := range part {
			chunk.Expects[i] = show.ExpectProto(&part[i])
		}
		if err := stream.Send(&ctsyncv1.ShowCacheResponse{Chunk: &ctsyncv1.ShowCacheResponse_Expects{Expects: chunk}}); err != nil {
			return err
		}
	}
	return nil
}

// chunkSize is the request's chunk size, defaulted and capped so that a
// chunk stays under gRPC's message limit.
func chunkSize(n uint32) int {
	switch {
	case n == 0:
		return ctsyncv1.DefaultCacheChunk
	case n > ctsyncv1.MaxCacheChunk:
		return ctsyncv1.MaxCacheChunk
	}
	return int(n)
}

func whichCache(c ctsyncv1.Cache) (engine.Which, error) {
	switch c {
	case ctsyncv1.Cache_CACHE_INTERNAL:
		return engine.Internal, nil
	case ctsyncv1.Cache_CACHE_EXTERNAL:
		return engine.External, nil
	}
	return 0, status.Errorf(codes.InvalidArgument, "name the cache: internal-cache or external-cache (got %v)", c)
}

// ResetCache flushes one cache and has it rebuilt (CS-B18, CS-B19). The
// counts flushed are the cache's sizes just before the reset.
func (s *Server) ResetCache(ctx context.Context, req *ctsyncv1.ResetCacheRequest) (*ctsyncv1.ResetCacheResponse, error) {
	which, err := whichCache(req.GetCache())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.configured(ctx, "reset the "+cacheName(req.GetCache()))
	if err != nil {
		return nil, err
	}
	resp := &ctsyncv1.ResetCacheResponse{
		FlushedEntries: uint64(st.Main.InternalLen), FlushedExpects: uint64(st.Expect.InternalLen),
	}
	if which == engine.External {
		resp.FlushedEntries, resp.FlushedExpects = uint64(st.Main.ExternalLen), uint64(st.Expect.ExternalLen)
	}
	if err := s.engine.Reset(ctx, which); err != nil {
		return nil, commandError("reset the "+cacheName(req.GetCache()), err)
	}
	s.opts.Logger.Info("cache reset by the operator", "cache", cacheName(req.GetCache()),
		"entries", resp.FlushedEntries, "expectations", resp.FlushedExpects)
	return resp, nil
}

func cacheName(c ctsyncv1.Cache) string {
	if c == ctsyncv1.Cache_CACHE_EXTERNAL {
		return "external cache"
	}
	return "internal cache"
}

// Restart rebuilds both caches and resyncs both ways, counters reset
// (CS-B17); the statistics count from now on.
func (s *Server) Restart(ctx context.Context, _ *ctsyncv1.RestartRequest) (*ctsyncv1.RestartResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.configured(ctx, "restart conntrack-sync"); err != nil {
		return nil, err
	}
	if err := s.engine.Restart(ctx); err != nil {
		return nil, commandError("restart conntrack-sync", err)
	}
	s.since = s.opts.Now()
	s.opts.Logger.Info("conntrack-sync restarted by the operator: counters reset, caches rebuilt")
	return &ctsyncv1.RestartResponse{}, nil
}

// Reload reads the configuration file again and applies it when it is
// valid; with any error the running configuration stays as it is
// (CS-B20).
func (s *Server) Reload(ctx context.Context, _ *ctsyncv1.ReloadRequest) (*ctsyncv1.ReloadResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := os.ReadFile(s.opts.ConfigFile)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "read the configuration %s: %v; nothing changed", s.opts.ConfigFile, err)
	}
	next, diags := Check(s.opts.ConfigFile, src)
	if next == nil {
		s.opts.Logger.Warn("configuration not reloaded: it has errors", "file", s.opts.ConfigFile)
		return &ctsyncv1.ReloadResponse{Diagnostics: diags}, nil
	}
	changes, err := s.engine.Apply(ctx, Applied(next))
	if err != nil {
		return nil, engineError(fmt.Errorf("apply the new configuration: %w", err))
	}
	s.opts.Logger.Info("configuration reloaded", "file", s.opts.ConfigFile, "changes", len(changes))
	return &ctsyncv1.ReloadResponse{Applied: true, Diagnostics: diags, Changes: changes}, nil
}

// Applied is what the engine is given for a loaded configuration: nil when
// it has no `service conntrack-sync` (the contract's "no sync", CS-C01).
func Applied(cfg *config.Config) *config.Config {
	if cfg == nil || !cfg.Enabled {
		return nil
	}
	return cfg
}

// Validate checks a configuration text without applying it.
func (s *Server) Validate(_ context.Context, req *ctsyncv1.ValidateRequest) (*ctsyncv1.ValidateResponse, error) {
	file := req.GetFile()
	if file == "" {
		file = defaultValidateFile
	}
	_, diags := Check(file, []byte(req.GetText()))
	return &ctsyncv1.ValidateResponse{Diagnostics: diags}, nil
}

// configured returns the status when sync is configured, else why the
// command cannot apply.
func (s *Server) configured(ctx context.Context, command string) (engine.Status, error) {
	st, err := s.status(ctx)
	if err != nil {
		return st, err
	}
	if !enabled(st) {
		return st, status.Errorf(codes.FailedPrecondition,
			"cannot %s: conntrack-sync is not configured (add service conntrack-sync to %s and reload)", command, s.configFile())
	}
	return st, nil
}

func (s *Server) configFile() string {
	if s.opts.ConfigFile == "" {
		return "the configuration"
	}
	return s.opts.ConfigFile
}

func (s *Server) status(ctx context.Context) (engine.Status, error) {
	st, err := s.engine.Status(ctx)
	if err != nil {
		return st, engineError(err)
	}
	return st, nil
}

// enabled: a `service conntrack-sync` is applied (CS-C01).
func enabled(st engine.Status) bool {
	return st.Configured && st.Config != nil && st.Config.Enabled
}

// commandError: the engine's refusal of a reset or restart says why not,
// a precondition the operator can change.
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
		return status.Error(codes.Unavailable, "ctsyncd is shutting down: retry once it has restarted")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}
