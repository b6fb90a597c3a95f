package bus

import (
	"errors"
	"io/fs"
	"net"
	"syscall"
	"testing"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

func TestSocketPath(t *testing.T) {
	if got := SocketPath("/run/hasuite", "vrrpd"); got != "/run/hasuite/vrrpd.sock" {
		t.Errorf("SocketPath = %q", got)
	}
	if got := SocketPath("/tmp/r1/", "clusterd"); got != "/tmp/r1/clusterd.sock" {
		t.Errorf("SocketPath = %q", got)
	}
}

func TestDialExplainsAnUnreachableDaemon(t *testing.T) {
	missing := socketIn(t, "vrrpd")
	stale := socketIn(t, "clusterd")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	tests := []struct {
		desc  string
		path  string
		cause error
		want  string
	}{
		{"no socket", missing, fs.ErrNotExist,
			"cannot reach vrrpd at " + missing + ": is it running? (connect: no such file or directory)"},
		{"stale socket", stale, syscall.ECONNREFUSED,
			"cannot reach clusterd at " + stale + ": is it running? (connect: connection refused)"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			conn, err := Dial(testContext(t), tt.path)
			if err == nil {
				conn.Close()
				t.Fatal("Dial succeeded")
			}
			if !errors.Is(err, ErrUnreachable) || !errors.Is(err, tt.cause) {
				t.Errorf("error %v should match ErrUnreachable and %v", err, tt.cause)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestDialReachesARunningDaemon(t *testing.T) {
	sp := serve(t, socketIn(t, "vrrpd"), newTestProducer("vrrpd"))
	conn, err := Dial(testContext(t), sp.path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer conn.Close()
	resp, err := busv1.NewFailoverClient(conn).List(testContext(t), &busv1.ListRequest{})
	if err != nil {
		t.Fatalf("List as uid %d: %v", syscall.Getuid(), err)
	}
	if resp.GetSource() != "vrrpd" || resp.GetBootId() != sp.BootID() {
		t.Errorf("List = %v, want source vrrpd with boot id %s", resp, sp.BootID())
	}
}
