//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// scrape GETs /metrics on the node's loopback. The socket is made on the
// thread Do puts in the node's namespace, which net/http's transport
// (dialing from goroutines of its own) would not do.
func scrape(node *netlab.Node, addr string) (string, error) {
	var body string
	err := node.Do(func() error {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(conn, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", addr); err != nil {
			return err
		}
		data, err := io.ReadAll(bufio.NewReader(conn))
		body = string(data)
		return err
	})
	return body, err
}

// TestMetricsListen: with --metrics-listen, vrrpd serves the group's state
// and counters in the Prometheus text format.
func TestMetricsListen(t *testing.T) {
	bin := binary(t)
	lab := newLab(t)
	node := lab.Node("r1")
	dir := t.TempDir()
	configFile := filepath.Join(dir, "vrrpd.conf")
	if err := os.WriteFile(configFile, []byte(routerConfig(150, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	const addr = "127.0.0.1:9712"
	r := &router{node: node, bin: bin, runDir: filepath.Join(dir, "run")}
	var err error
	r.proc, err = node.Start(t.Context(), bin, "--config", configFile, "--run-dir", r.runDir,
		"--metrics-listen", addr, "run")
	if err != nil {
		t.Fatal(err)
	}
	r.waitState(t, vrrpv1.State_STATE_MASTER)
	netlab.WaitFor(t, patience, func() (bool, string) {
		body, err := scrape(node, addr)
		if err != nil {
			return false, err.Error()
		}
		ok := strings.Contains(body, "200 OK") &&
			strings.Contains(body, `vrrpd_group_state{group="eth0/99",state="MASTER"} 1`) &&
			strings.Contains(body, `vrrpd_became_master_total{group="eth0/99"} 1`)
		return ok, "scrape:\n" + body
	})

	// A second vrrpd asking for the same port refuses to start.
	second, err := node.Start(t.Context(), bin, "--config", configFile, "--run-dir", filepath.Join(dir, "run2"),
		"--metrics-listen", addr, "run")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.Done():
		if !strings.Contains(second.Output(), "--metrics-listen") {
			t.Errorf("the refusal does not name --metrics-listen:\n%s", second.Output())
		}
	case <-time.After(patience):
		t.Fatal("a second vrrpd on a taken metrics port kept running")
	}
}
