package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

// Options are the values of the global flags.
type Options struct {
	Name          string // the daemon, e.g. "vrrpd"
	ConfigFile    string
	RunDir        string
	ScriptsDir    string
	StateDir      string
	LogFormat     LogFormat
	LogLevel      slog.Level
	MetricsListen string // empty: no metrics
}

// OptionsFrom reads the global flags from c, or from any command above it,
// for the daemon named by c.App.Name (NewApp sets it). It rejects empty
// paths and unknown log formats or levels.
func OptionsFrom(c *cli.Context) (Options, error) {
	if c.App == nil || c.App.Name == "" {
		return Options{}, errors.New("reading global flags: the cli.App has no Name; create it with daemon.NewApp")
	}
	o := Options{
		Name:          c.App.Name,
		ConfigFile:    c.String(FlagConfig),
		RunDir:        c.String(FlagRunDir),
		ScriptsDir:    c.String(FlagScriptsDir),
		StateDir:      c.String(FlagStateDir),
		MetricsListen: c.String(FlagMetricsListen),
	}
	paths := []struct{ flag, value string }{
		{FlagConfig, o.ConfigFile}, {FlagRunDir, o.RunDir}, {FlagScriptsDir, o.ScriptsDir}, {FlagStateDir, o.StateDir},
	}
	for _, p := range paths {
		if p.value == "" {
			return Options{}, fmt.Errorf("--%s is empty: give a path, or unset %s", p.flag, EnvVar(p.flag))
		}
	}
	var err error
	if o.LogFormat, err = ParseLogFormat(c.String(FlagLogFormat)); err != nil {
		return Options{}, err
	}
	if o.LogLevel, err = ParseLogLevel(c.String(FlagLogLevel)); err != nil {
		return Options{}, err
	}
	return o, nil
}

// SocketPath is where this daemon serves its API: <run-dir>/<name>.sock.
func (o Options) SocketPath() string { return o.SocketPathOf(o.Name) }

// SocketPathOf is where the daemon called name serves its API; consumers
// find their producers' sockets in their own run directory.
func (o Options) SocketPathOf(name string) string {
	return filepath.Join(o.RunDir, name+".sock")
}

// MakeRunDir creates the run directory if it is missing. Daemons call it
// before listening; clients (show, reload) do not, so a wrong --run-dir
// reads as "no such daemon" instead of leaving directories behind.
func (o Options) MakeRunDir() error {
	// Readable by all: sockets are protected by their own mode and by the
	// peer-credential check.
	if err := os.MkdirAll(o.RunDir, 0o755); err != nil {
		return fmt.Errorf("creating the run directory: %w (point --%s or %s at a writable place)", err, FlagRunDir, EnvVar(FlagRunDir))
	}
	return nil
}
