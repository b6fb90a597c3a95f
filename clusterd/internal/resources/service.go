package resources

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/pkg/hook"
)

// Directories and programs the script services are found in.
const (
	DefaultInitDir = "/etc/init.d"
	// DefaultResourceDir is --resource-dir's default; GuideResourceDir,
	// heartbeat's, is tried after it (CL-C08c).
	DefaultResourceDir = "/etc/hasuite/resource.d"
	GuideResourceDir   = "/etc/ha.d/resource.d"
	// DefaultSystemdDir exists exactly when systemd is the running init
	// (sd_booted(3)).
	DefaultSystemdDir = "/run/systemd/system"
	// SystemdPrefix marks an explicit systemd unit: `service systemd:strongswan`
	// (CL-Q03, beyond the guide).
	SystemdPrefix = "systemd:"
)

// ScriptRunner runs one script and waits for its end; *hook.Runner is the
// real one (hook.Runner.Run).
type ScriptRunner interface {
	Run(ctx context.Context, key string, job hook.Job) hook.Result
}

// Health is what a status check found.
type Health int

const (
	HealthUnknown Health = iota
	HealthRunning
	HealthStopped
)

func (h Health) String() string {
	switch h {
	case HealthRunning:
		return "running"
	case HealthStopped:
		return "stopped"
	}
	return "unknown"
}

// lsbNotRunning is the `status` exit code of LSB init scripts and
// `systemctl status` for a service that is not running.
const lsbNotRunning = 3

// resource is one started-and-stopped thing. start and stop return the
// last lines of a script's output (nil for addresses).
type resource interface {
	start(ctx context.Context) ([]string, error)
	stop(ctx context.Context) ([]string, error)
	status(ctx context.Context) (Health, error)
}

// command is a script service resolved to what runs: path with the
// arguments before and after the action.
type command struct {
	runner  ScriptRunner
	key     string
	path    string
	pre     []string // before start|stop|status
	post    []string // after it (the systemd unit)
	timeout time.Duration
	what    string // for messages: "init script /etc/init.d/ipsec"
}

func (c *command) run(ctx context.Context, action string) hook.Result {
	args := append(append(append([]string(nil), c.pre...), action), c.post...)
	job := hook.Job{Script: c.path, Args: args, Timeout: c.timeout}
	return c.runner.Run(ctx, c.key, job)
}

func (c *command) act(ctx context.Context, action string) ([]string, error) {
	res := c.run(ctx, action)
	if res.Err != nil {
		return res.Output, fmt.Errorf("%s %s: %w", c.what, action, res.Err)
	}
	return res.Output, nil
}

func (c *command) start(ctx context.Context) ([]string, error) { return c.act(ctx, "start") }
func (c *command) stop(ctx context.Context) ([]string, error)  { return c.act(ctx, "stop") }

func (c *command) status(ctx context.Context) (Health, error) {
	res := c.run(ctx, "status")
	switch {
	case res.ExitCode == 0:
		return HealthRunning, nil
	case res.ExitCode == lsbNotRunning:
		return HealthStopped, nil
	}
	return HealthUnknown, fmt.Errorf("%s status: %w", c.what, res.Err)
}

// resolver turns config.Services into resources.
type resolver struct {
	opts *Options
}

// resolve finds what runs service s. Errors say what is missing and where
// it was looked for.
func (r resolver) resolve(s config.Service, ip func(config.Service) resource) (resource, error) {
	switch s.Kind {
	case config.ServiceIP:
		if !s.Addr.Addr().Is4() || s.Interface == "" {
			return nil, fmt.Errorf("service %s: a cluster IP needs an IPv4 address and an interface", s.Raw)
		}
		return ip(s), nil
	case config.ServiceInit:
		return r.initService(s)
	case config.ServiceScript:
		return r.resourceScript(s)
	}
	return nil, fmt.Errorf("service %q: unknown kind %d", s.Raw, s.Kind)
}

func (r resolver) script(s config.Service, path string, pre, post []string, what string) *command {
	return &command{runner: r.opts.Scripts, key: r.opts.Name, path: path, pre: pre, post: post,
		timeout: r.opts.Timeout, what: what}
}

func (r resolver) initService(s config.Service) (resource, error) {
	if unit, explicit := s.Unit(); explicit {
		if unit == ".service" {
			return nil, fmt.Errorf("service %s: name the systemd unit after %q", s.Raw, SystemdPrefix)
		}
		return r.systemd(s, unit)
	}
	if strings.ContainsRune(s.Name, '/') || s.Name == "" {
		return nil, fmt.Errorf("service %q: an init service is a bare name in %s", s.Raw, r.opts.InitDir)
	}
	path := filepath.Join(r.opts.InitDir, s.Name)
	if _, err := os.Stat(path); err == nil {
		if err := hook.Check(path); err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Raw, err)
		}
		return r.script(s, path, nil, nil, "init script "+path), nil
	}
	cmd, err := r.systemd(s, s.Name)
	if err != nil {
		return nil, fmt.Errorf("service %s: no init script %s, and %w", s.Raw, path, errors.Unwrap(err))
	}
	return cmd, nil
}

// systemd resolves a unit run through systemctl (CL-C08b, CL-Q03).
func (r resolver) systemd(s config.Service, unit string) (resource, error) {
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	if _, err := os.Stat(r.opts.SystemdDir); err != nil {
		return nil, fmt.Errorf("service %s: %w", s.Raw, fmt.Errorf("systemd is not running here (no %s) to start %s: install the init script or correct the name", r.opts.SystemdDir, unit))
	}
	path := r.opts.Systemctl
	if !filepath.IsAbs(path) {
		found, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Raw, fmt.Errorf("%s not found in PATH to start %s: %w", path, unit, err))
		}
		path = found
	}
	return r.script(s, path, nil, []string{unit}, "systemd unit "+unit), nil
}

// resourceScript resolves `script::args` against the resource directories
// in order (CL-C08c).
func (r resolver) resourceScript(s config.Service) (resource, error) {
	if s.Name == "" {
		return nil, fmt.Errorf("service %q: name the resource script before '::'", s.Raw)
	}
	var tried []string
	if filepath.IsAbs(s.Name) {
		tried = append(tried, s.Name)
	} else {
		for _, dir := range r.opts.ResourceDirs {
			tried = append(tried, filepath.Join(dir, s.Name))
		}
	}
	for _, path := range tried {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if err := hook.Check(path); err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Raw, err)
		}
		return r.script(s, path, s.Args, nil, "resource script "+path), nil
	}
	return nil, fmt.Errorf("service %s: resource script not found (looked for %s): install it or set --resource-dir",
		s.Raw, strings.Join(tried, ", "))
}
