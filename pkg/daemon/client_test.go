package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// runCommand runs a throwaway testd app whose one command, cmd, has the
// client flags, and returns what it printed.
func runCommand(t *testing.T, action cli.ActionFunc, args ...string) (string, error) {
	t.Helper()
	clearEnv(t)
	app := NewApp("testd", "test")
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, io.Discard
	app.Commands = []*cli.Command{{Name: "cmd", Flags: []cli.Flag{JSONFlag, LinesFlag, DebugFlag}, Action: action}}
	err := app.Run(append([]string{"testd"}, args...))
	return out.String(), err
}

func TestReply(t *testing.T) {
	resp := wrapperspb.String("eth0/99")
	encode := func(m proto.Message) ([]byte, error) {
		return []byte(`{"value":"` + m.(*wrapperspb.StringValue).GetValue() + "\"}\n"), nil
	}
	render := func() string { return "Group eth0/99\n" }
	failing := func(proto.Message) ([]byte, error) { return nil, errors.New("encode failed") }
	tests := []struct {
		name    string
		args    []string
		callErr error
		encode  func(proto.Message) ([]byte, error)
		want    string
		wantErr string
	}{
		{"text", []string{"cmd"}, nil, encode, "Group eth0/99\n", ""},
		{"json", []string{"cmd", "--json"}, nil, encode, "{\"value\":\"eth0/99\"}\n", ""},
		{"encoding fails", []string{"cmd", "--json"}, nil, failing, "", "encode failed"},
		{"the daemon refuses", []string{"cmd", "--json"}, status.Error(codes.FailedPrecondition, "group eth0/99 is not MASTER"), encode,
			"", "group eth0/99 is not MASTER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCommand(t, func(c *cli.Context) error { return Reply(c, resp, tt.callErr, tt.encode, render) }, tt.args...)
			if out != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("%q, %v; want %q, %q", out, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNoArgs(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"cmd"}, ""},
		{[]string{"cmd", "--json"}, ""},
		{[]string{"cmd", "extra", "more"}, `unexpected arguments ["extra" "more"]`},
	} {
		_, err := runCommand(t, NoArgs, tt.args...)
		if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestCall(t *testing.T) {
	runDir, err := os.MkdirTemp("", "hasuite-call-") // short: a socket path is bounded
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	call := func(c *cli.Context) error {
		newClient := func(cc grpc.ClientConnInterface) grpc.ClientConnInterface { return cc }
		return Call(c, time.Minute, newClient, func(ctx context.Context, client grpc.ClientConnInterface) error {
			if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > time.Minute {
				return errors.New("the call is not bounded by its timeout")
			}
			return client.Invoke(ctx, "/hasuite.test.v1.Test/Ping", nil, nil)
		})
	}

	// No daemon: the dial fails and says so.
	if _, err := runCommand(t, call, "--run-dir", runDir, "cmd"); err == nil {
		t.Fatal("a call with no daemon running succeeded")
	}

	srv, _, err := ServeAPI(filepath.Join(runDir, "testd.sock"), slog.New(slog.NewTextHandler(io.Discard, nil)), func(*grpc.Server) {})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	_, err = runCommand(t, call, "--run-dir", runDir, "cmd")
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "hasuite.test.v1.Test") {
		t.Errorf("the call reached %v, want the daemon's Unimplemented for the test service", err)
	}
}
