package daemon

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// FlagNodeName names clusterd's node identity flag (ARCHITECTURE.md:
// "clusterd also --node-name NAME"). It is not one of GlobalFlags: only a
// daemon that takes part in a cluster adds NodeNameFlag to its app.
const FlagNodeName = "node-name"

// NodeNameFlag is the --node-name flag (also HASUITE_NODE_NAME). Its empty
// default stands for the kernel host name, read when NodeName is called so
// that the help text does not freeze the build machine's name.
func NodeNameFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    FlagNodeName,
		Usage:   "this node's `NAME` in the cluster configuration (primary/secondary); default: the host name",
		EnvVars: []string{EnvVar(FlagNodeName)},
	}
}

// NodeName returns the --node-name of c or of a command above it, else the
// host name. Renaming the host silently changes the node's identity
// (spec CL-Q14), hence the flag.
func NodeName(c *cli.Context) (string, error) {
	if name := c.String(FlagNodeName); name != "" {
		return name, nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "", fmt.Errorf("no node name: the host name is unreadable (%v); give one with --%s or %s",
			err, FlagNodeName, EnvVar(FlagNodeName))
	}
	return host, nil
}
