// Command ctsyncd is the conntrack synchronization daemon for stateful NAT
// and firewall failover (guide chapter 4) and its command line: `ctsyncd
// run` runs the daemon; the other commands ask the running daemon over
// <run-dir>/ctsyncd.sock, except `validate`, which needs no daemon, and
// `watch`, which asks the failover producer ctsyncd follows.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/pkg/daemon"
)

// name is the daemon's name: its socket and its config file.
const name = "ctsyncd"

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	app := daemon.NewApp(name, "conntrack table synchronization for stateful NAT and firewall failover")
	app.Commands = []*cli.Command{
		runCommand(),
		showCommand(),
		resetCommand(),
		restartCommand(),
		reloadCommand(),
		validateCommand(),
		monitorCommand(),
		watchCommand(),
	}
	return app
}
