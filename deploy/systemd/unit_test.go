package systemd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// unit is a parsed unit file: section → key → values, in file order (a key
// may repeat).
type unit map[string]map[string][]string

// parseUnit reads the systemd unit syntax the units use: [Section] headers,
// Key=Value lines, # and ; comments, backslash continuation lines.
func parseUnit(text string) (unit, error) {
	u := unit{}
	section := ""
	var pending string
	scanner := bufio.NewScanner(strings.NewReader(text))
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimSpace(scanner.Text())
		if pending != "" {
			line = pending + " " + line
			pending = ""
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q is neither a [Section] nor Key=Value inside one", n, line)
			}
			key = strings.TrimSpace(key)
			u[section][key] = append(u[section][key], strings.TrimSpace(value))
		}
	}
	if pending != "" {
		return nil, fmt.Errorf("the file ends in a continuation line")
	}
	return u, scanner.Err()
}

// last is the effective value of a key: the last assignment wins.
func (u unit) last(section, key string) (string, bool) {
	values := u[section][key]
	if len(values) == 0 {
		return "", false
	}
	return values[len(values)-1], true
}

func readUnit(t *testing.T, name string) unit {
	t.Helper()
	text, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(string(text))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u
}

func TestParseUnit(t *testing.T) {
	u, err := parseUnit("# c\n[Unit]\nA=1\n; c\n[Service]\nB = x \\\n  y\nB=2\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := u.last("Unit", "A"); got != "1" {
		t.Errorf("Unit.A = %q, want 1", got)
	}
	if got := u["Service"]["B"]; !slices.Equal(got, []string{"x  y", "2"}) {
		t.Errorf("Service.B = %q, want [x  y 2]", got)
	}
	for _, bad := range []string{"A=1\n", "[Unit]\nnot a key\n", "[Unit]\nA=1 \\\n"} {
		if _, err := parseUnit(bad); err == nil {
			t.Errorf("parseUnit(%q) succeeded, want an error", bad)
		}
	}
}

// TestVrrpdUnit checks what the unit promises: Type=notify (vrrpd sends
// READY=1 and, around SIGHUP reloads, RELOADING=1), a reload through the
// daemon, and least privilege (ARCHITECTURE.md, runtime conventions).
func TestVrrpdUnit(t *testing.T) {
	u := readUnit(t, "vrrpd.service")
	want := []struct{ section, key, value string }{
		{"Service", "Type", "notify"},
		{"Service", "NotifyAccess", "main"},
		{"Service", "ExecStart", "/usr/sbin/vrrpd run"},
		{"Service", "ExecReload", "/usr/sbin/vrrpd reload"},
		{"Service", "KillMode", "mixed"},
		{"Service", "RuntimeDirectory", "hasuite"},
		{"Service", "RuntimeDirectoryPreserve", "yes"},
		{"Service", "StateDirectory", "hasuite/vrrpd"},
		{"Service", "CapabilityBoundingSet", "CAP_NET_ADMIN CAP_NET_RAW"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET"},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, w := range want {
		if got, ok := u.last(w.section, w.key); !ok || got != w.value {
			t.Errorf("[%s] %s = %q (set: %v), want %q", w.section, w.key, got, ok, w.value)
		}
	}
	// These would break vrrpd: read-only /proc/sys stops the vMAC
	// sysctls, a private network hides the interfaces, ambient or extra
	// capabilities defeat the bounding set.
	for _, key := range []string{"ProtectKernelTunables", "PrivateNetwork", "AmbientCapabilities", "User", "DynamicUser"} {
		if v, ok := u.last("Service", key); ok {
			t.Errorf("[Service] %s=%s must not be set (see the comment in vrrpd.service)", key, v)
		}
	}
	// vrrpd resigns within 10 s of SIGTERM (run.go's shutdownTimeout);
	// systemd must wait longer before SIGKILL.
	stop, _ := u.last("Service", "TimeoutStopSec")
	if d, err := time.ParseDuration(stop); err != nil || d <= 10*time.Second {
		t.Errorf("TimeoutStopSec = %q, want a duration over 10s", stop)
	}
}

// TestSystemdAnalyzeVerify loads the units with systemd's own checker,
// where it is installed, with ExecStart pointed at an executable that
// exists: verify refuses a missing binary.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	units, err := filepath.Glob("*.service")
	if err != nil || len(units) == 0 {
		t.Fatalf("no units found: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range units {
		text, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		daemon := "/usr/sbin/" + strings.TrimSuffix(name, ".service")
		if !strings.Contains(string(text), daemon) {
			t.Fatalf("%s does not run %s", name, daemon)
		}
		local := strings.ReplaceAll(string(text), daemon, self)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(local), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := exec.CommandContext(ctx, analyze, "verify", filepath.Join(dir, name)).CombinedOutput()
		cancel()
		if err != nil || strings.Contains(string(out), name) {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
	}
}
