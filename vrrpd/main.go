// Command vrrpd is the VRRP daemon (guide chapter 2) and its command line:
// `vrrpd run` runs the daemon; the other commands ask the running daemon
// over <run-dir>/vrrpd.sock, except `validate`, which needs no daemon.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/pkg/daemon"
)

// name is the daemon's name: its socket, its bus source, its config file.
const name = "vrrpd"

func main() {
	app := daemon.NewApp(name, "VRRP virtual router addresses with election, preemption and sync groups")
	app.Commands = []*cli.Command{
		runCommand(),
		showCommand(),
		resetCommand(),
		reloadCommand(),
		validateCommand(),
		daemon.WatchCommand("eth0/99|sync-group/NAME"),
		restartCommand(),
		monitorCommand(),
		debugCommand(),
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
