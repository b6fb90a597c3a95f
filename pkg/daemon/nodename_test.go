package daemon

import (
	"bytes"
	"os"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestNodeName: the flag wins over HASUITE_NODE_NAME, which wins over the
// host name (CL-Q14), and the flag is read from the app's level.
func TestNodeName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name here: %v", err)
	}
	tests := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"default is the host name", "", nil, host},
		{"environment", "R2", nil, "R2"},
		{"flag wins", "R2", []string{"--node-name", "R1"}, "R1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.env != "" {
				t.Setenv(EnvVar(FlagNodeName), tt.env)
			}
			app := NewApp("clusterd", "test")
			app.Flags = append(app.Flags, NodeNameFlag())
			app.Writer, app.ErrWriter = new(bytes.Buffer), new(bytes.Buffer)
			var got string
			app.Commands = []*cli.Command{{Name: "run", Action: func(c *cli.Context) error {
				got, err = NodeName(c)
				return err
			}}}
			if err := app.Run(append(append([]string{"clusterd"}, tt.args...), "run")); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("NodeName = %q, want %q", got, tt.want)
			}
		})
	}
}
