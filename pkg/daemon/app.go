package daemon

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/pkg/hook"
)

// Version is the suite's version, shared by every binary and printed by
// --version. Release builds set it with
// -ldflags "-X github.com/hasuite/hasuite/pkg/daemon.Version=1.2.3".
var Version = "dev"

// Names of the global flags.
const (
	FlagConfig        = "config"
	FlagRunDir        = "run-dir"
	FlagScriptsDir    = "scripts-dir"
	FlagStateDir      = "state-dir"
	FlagLogFormat     = "log-format"
	FlagLogLevel      = "log-level"
	FlagMetricsListen = "metrics-listen"
)

// Defaults of the global flags that do not depend on the daemon's name.
const (
	DefaultRunDir     = "/run/hasuite"
	DefaultScriptsDir = hook.DefaultDir
)

// NewApp returns a cli.App named after the daemon, carrying the global flags
// and Version. The daemon adds its commands, and its own flags if any
// (clusterd's --node-name, named with EnvVar).
func NewApp(name, usage string) *cli.App {
	return &cli.App{
		Name:    name,
		Usage:   usage,
		Version: Version,
		Flags:   GlobalFlags(name),
	}
}

// GlobalFlags returns the flags every daemon takes before its subcommand,
// with defaults for the daemon called name. Each is also read from the
// environment variable EnvVar(flag); a flag on the command line wins over
// the environment, which wins over the default.
func GlobalFlags(name string) []cli.Flag {
	flag := func(flagName, usage, value string) *cli.StringFlag {
		return &cli.StringFlag{Name: flagName, Usage: usage, Value: value, EnvVars: []string{EnvVar(flagName)}}
	}
	config := flag(FlagConfig, "read the configuration from `FILE`", "/etc/hasuite/"+name+".conf")
	config.TakesFile = true
	return []cli.Flag{
		config,
		flag(FlagRunDir, "keep sockets in `DIR` (created if missing), where the other daemons' sockets are found too", DefaultRunDir),
		flag(FlagScriptsDir, "look up relative script names in `DIR` (the guide's /config/scripts)", DefaultScriptsDir),
		flag(FlagStateDir, "keep persistent state in `DIR`", "/var/lib/hasuite/"+name),
		flag(FlagLogFormat, "log as text or json", string(LogText)),
		flag(FlagLogLevel, "log at debug, info, warn or error `LEVEL` and above", "info"),
		flag(FlagMetricsListen, "serve Prometheus metrics on `ADDR` (host:port; empty: off)", ""),
	}
}

// EnvVar returns the environment variable that sets a flag:
// "run-dir" → HASUITE_RUN_DIR.
func EnvVar(flag string) string {
	return "HASUITE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
