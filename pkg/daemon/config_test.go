package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDiag stands for a daemon's generated Diagnostic.
type fakeDiag struct {
	severity     string
	line, column uint32
	path, msg    string
}

func (d *fakeDiag) GetSeverity() string { return d.severity }
func (d *fakeDiag) GetFile() string     { return "x.conf" }
func (d *fakeDiag) GetLine() uint32     { return d.line }
func (d *fakeDiag) GetColumn() uint32   { return d.column }
func (d *fakeDiag) GetPath() string     { return d.path }
func (d *fakeDiag) GetMessage() string  { return d.msg }

type fakeConfig struct{ src string }

func renderDiags(diags []*fakeDiag) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s:%d:%d: %s: %s\n", d.GetFile(), d.line, d.column, d.severity, d.msg)
	}
	return b.String()
}

// checkFake accepts any file but one saying "bad", and warns about one
// saying "odd".
func checkFake(file string, src []byte) (*fakeConfig, []*fakeDiag) {
	switch string(src) {
	case "bad":
		return nil, []*fakeDiag{{severity: "error", line: 1, column: 1, path: "service", msg: "unknown"}}
	case "odd":
		return &fakeConfig{string(src)}, []*fakeDiag{{severity: "warning", line: 2, column: 5, path: "service x", msg: "deprecated"}}
	}
	return &fakeConfig{string(src)}, nil
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name    string
		file    string
		wantErr string // empty: loads
		wantLog string // in the log; empty: nothing logged
	}{
		{"good", write("good.conf", "good"), "", ""},
		{"missing", filepath.Join(dir, "none.conf"), "(give its path with --config)", ""},
		{"errors", write("bad.conf", "bad"), "the configuration has errors, nothing started:\nx.conf:1:1: error: unknown\n", ""},
		{"warnings", write("odd.conf", "odd"), "",
			`level=WARN msg="configuration warning" file=x.conf line=2 column=5 path="service x" msg=deprecated`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&log, nil))
			cfg, err := LoadConfig(tt.file, logger, checkFake, renderDiags)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("LoadConfig: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("LoadConfig: error %v, want one containing %q", err, tt.wantErr)
			case tt.wantErr == "" && cfg == nil:
				t.Fatal("LoadConfig returned no configuration and no error")
			}
			if got := log.String(); (tt.wantLog == "") != (got == "") || !strings.Contains(got, tt.wantLog) {
				t.Errorf("log %q, want %q", got, tt.wantLog)
			}
		})
	}
}

func TestLogReload(t *testing.T) {
	tests := []struct {
		name    string
		diags   []*fakeDiag
		changes []string
		err     error
		want    []string // the log's lines, in order
	}{
		{"failed", nil, nil, errors.New("the daemon is stopping"),
			[]string{`level=ERROR msg="reload failed" err="the daemon is stopping"`}},
		{"applied", []*fakeDiag{{severity: "warning", line: 3, column: 1, path: "p", msg: "m"}}, []string{"eth0/99: priority 100 -> 150"}, nil,
			[]string{
				`level=WARN msg="reload: configuration problem" severity=warning file=x.conf line=3 column=1 path=p msg=m`,
				`level=INFO msg="reload: applied" change="eth0/99: priority 100 -> 150"`,
			}},
		{"no changes", nil, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))
			LogReload(logger, tt.diags, tt.changes, tt.err)
			got := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
			if len(tt.want) == 0 {
				got = nil
				if log.Len() != 0 {
					got = []string{log.String()}
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

type fakeReloadRequest struct{ fail bool }

type fakeReloadResponse struct {
	diags   []*fakeDiag
	changes []string
}

func (r *fakeReloadResponse) GetDiagnostics() []*fakeDiag { return r.diags }
func (r *fakeReloadResponse) GetChanges() []string        { return r.changes }

func TestReloadOnSignal(t *testing.T) {
	signals, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := func(ctx context.Context, req *fakeReloadRequest) (*fakeReloadResponse, error) {
		if ctx != signals {
			t.Error("the reload did not get the Lifecycle's context")
		}
		if req.fail {
			return nil, errors.New("the file went away")
		}
		return &fakeReloadResponse{changes: []string{"eth0/99 added"}}, nil
	}
	for _, tt := range []struct {
		req  *fakeReloadRequest
		want string
	}{
		{&fakeReloadRequest{}, `level=INFO msg="reload: applied" change="eth0/99 added"`},
		{&fakeReloadRequest{fail: true}, `level=ERROR msg="reload failed" err="the file went away"`},
	} {
		var log bytes.Buffer
		ReloadOnSignal(slog.New(slog.NewTextHandler(&log, nil)), reload, tt.req)(signals)
		if !strings.Contains(log.String(), tt.want) {
			t.Errorf("fail=%v: log %q, want %s", tt.req.fail, log.String(), tt.want)
		}
	}
}
