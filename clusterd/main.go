// Command clusterd is the two-node heartbeat cluster daemon (guide chapter
// 3) and its command line: `clusterd run` runs the daemon; the other
// commands ask the running daemon over <run-dir>/clusterd.sock, except
// `validate`, which needs no daemon.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/pkg/daemon"
)

// name is the daemon's name: its socket, its bus source, its config file.
const name = "clusterd"

// Names of clusterd's own global flags, beside daemon.GlobalFlags and
// daemon.NodeNameFlag.
const (
	flagResourceDir = "resource-dir"
	flagInitDir     = "init-dir"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	app := daemon.NewApp(name, "two-node heartbeat cluster: monitor nodes, cluster IP and script resources, failback")
	app.Flags = append(app.Flags,
		daemon.NodeNameFlag(),
		&cli.StringFlag{
			Name: flagResourceDir, EnvVars: []string{daemon.EnvVar(flagResourceDir)},
			Usage: "look up resource scripts (`script::args` services) in `DIR`; default " +
				resources.DefaultResourceDir + ", then the guide's " + resources.GuideResourceDir,
		},
		&cli.StringFlag{
			Name: flagInitDir, EnvVars: []string{daemon.EnvVar(flagInitDir)}, Value: resources.DefaultInitDir,
			Usage: "look up init script services in `DIR` (else they name the systemd unit NAME.service)",
		},
	)
	app.Commands = []*cli.Command{
		runCommand(),
		showCommand(),
		reloadCommand(),
		validateCommand(),
		daemon.WatchCommand("cluster/GROUP"),
		standbyCommand(),
		takeoverCommand(),
		monitorCommand(),
	}
	return app
}

// serviceOptions says where the script services are looked up, from the
// global flags.
func serviceOptions(c *cli.Context) resources.Options {
	opts := resources.Options{InitDir: c.String(flagInitDir)}
	if dir := c.String(flagResourceDir); dir != "" {
		opts.ResourceDirs = []string{dir}
	}
	return opts
}
