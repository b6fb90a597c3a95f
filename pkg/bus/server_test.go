package bus

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/status"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// peerRecorder is a Failover server that remembers who called List.
type peerRecorder struct {
	*Producer
	peers chan Peer
}

func (r peerRecorder) List(ctx context.Context, req *busv1.ListRequest) (*busv1.ListResponse, error) {
	who, ok := PeerFromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("no peer in the call's context")
	}
	r.peers <- who
	return r.Producer.List(ctx, req)
}

func TestServerRecordsThePeer(t *testing.T) {
	path := socketIn(t, "vrrpd")
	lis, err := Listen(path, WithGroupLookup(noAccessGroup))
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(path, nil, WithGroupLookup(noAccessGroup))
	recorder := peerRecorder{Producer: newTestProducer("vrrpd"), peers: make(chan Peer, 1)}
	busv1.RegisterFailoverServer(srv, recorder)
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := Dial(testContext(t), path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = busv1.NewFailoverClient(conn).List(testContext(t), &busv1.ListRequest{})
	if os.Getuid() != 0 {
		// Not root and no group: refused, which the credential tests cover.
		t.Skipf("List as uid %d: %v", os.Getuid(), err)
	}
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	who := receive(t, recorder.peers, "the recorded peer")
	if who.PID != int32(os.Getpid()) || who.UID != uint32(os.Getuid()) || who.GID != uint32(os.Getgid()) {
		t.Errorf("peer = %+v, want this process (pid %d uid %d gid %d)", who, os.Getpid(), os.Getuid(), os.Getgid())
	}
}

// helperSocketEnv makes the test binary act as a bus client for
// TestPeerCredentials (see TestHelperBusClient).
const helperSocketEnv = "HASUITE_BUS_TEST_CLIENT_SOCKET"

// TestPeerCredentials runs a real client as other users against a real
// server: root can start processes with any credentials.
func TestPeerCredentials(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	const nobody, hasuiteGID = 65534, 4242
	dir := t.TempDir()
	// The other user must reach the socket and run the test binary.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	client := filepath.Join(dir, "bus-client.test")
	copyExecutable(t, client)

	path := filepath.Join(dir, "vrrpd.sock")
	serve(t, path, newTestProducer("vrrpd"),
		WithGroupLookup(func(string) (uint32, bool, error) { return hasuiteGID, true, nil }))
	// Let everyone connect, so the refusal comes from the credential check
	// rather than from the file mode.
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		desc string
		cred syscall.Credential
		want string
	}{
		{"other user", syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}},
			"code=PermissionDenied message=uid 65534 is not allowed to use " + path +
				": run as root or add the user to group hasuite"},
		{"supplementary group hasuite", syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{hasuiteGID}},
			"code=OK message=source vrrpd"},
		{"primary group hasuite", syscall.Credential{Uid: nobody, Gid: hasuiteGID, Groups: []uint32{}},
			"code=OK message=source vrrpd"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cmd := exec.CommandContext(testContext(t), client, "-test.run=^TestHelperBusClient$")
			cmd.Dir = dir
			// The race detector otherwise lingers a second at exit.
			cmd.Env = []string{helperSocketEnv + "=" + path, "GORACE=atexit_sleep_ms=0"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &tt.cred}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("client: %v\n%s", err, out)
			}
			if got := helperResult(out); got != tt.want {
				t.Errorf("client got %q, want %q\n%s", got, tt.want, out)
			}
		})
	}
}

// TestHelperBusClient is the client process of TestPeerCredentials.
func TestHelperBusClient(t *testing.T) {
	path := os.Getenv(helperSocketEnv)
	if path == "" {
		t.Skip("runs only as TestPeerCredentials' client")
	}
	conn, err := Dial(testContext(t), path)
	if err != nil {
		fmt.Printf("result: dial: %v\n", err)
		return
	}
	defer conn.Close()
	resp, err := busv1.NewFailoverClient(conn).List(testContext(t), &busv1.ListRequest{})
	if err != nil {
		fmt.Printf("result: code=%v message=%s\n", status.Code(err), status.Convert(err).Message())
		return
	}
	fmt.Printf("result: code=OK message=source %s\n", resp.GetSource())
}

func helperResult(out []byte) string {
	scanner := bufio.NewScanner(bytes.NewReader(out))
	for scanner.Scan() {
		if result, ok := strings.CutPrefix(scanner.Text(), "result: "); ok {
			return result
		}
	}
	return ""
}

// copyExecutable copies the running test binary to path, where another
// user can run it.
func copyExecutable(t *testing.T, path string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
