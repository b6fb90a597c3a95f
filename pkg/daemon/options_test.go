package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// clearEnv unsets every HASUITE_ variable for the test, so the machine's
// environment cannot leak into the cases.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HASUITE_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

// optionsFor runs a throwaway vrrpd app with args and environment and
// returns the Options its subcommand saw.
func optionsFor(t *testing.T, env map[string]string, args ...string) (Options, error) {
	t.Helper()
	clearEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	app := NewApp("vrrpd", "test")
	app.Writer, app.ErrWriter = new(bytes.Buffer), new(bytes.Buffer)
	var opts Options
	var optsErr error
	app.Commands = []*cli.Command{{
		Name: "run",
		Action: func(c *cli.Context) error {
			opts, optsErr = OptionsFrom(c)
			return nil
		},
	}}
	if err := app.Run(append([]string{"vrrpd"}, append(args, "run")...)); err != nil {
		t.Fatalf("app.Run: %v", err)
	}
	return opts, optsErr
}

func TestOptionsPrecedence(t *testing.T) {
	defaults := Options{
		Name:       "vrrpd",
		ConfigFile: "/etc/hasuite/vrrpd.conf",
		RunDir:     "/run/hasuite",
		ScriptsDir: "/etc/hasuite/scripts",
		StateDir:   "/var/lib/hasuite/vrrpd",
		LogFormat:  LogText,
		LogLevel:   slog.LevelInfo,
	}
	with := func(change func(*Options)) Options {
		o := defaults
		change(&o)
		return o
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want Options
	}{
		{"defaults", nil, nil, defaults},
		{"environment over default",
			map[string]string{"HASUITE_RUN_DIR": "/tmp/r1", "HASUITE_LOG_FORMAT": "json", "HASUITE_METRICS_LISTEN": ":9100"}, nil,
			with(func(o *Options) { o.RunDir, o.LogFormat, o.MetricsListen = "/tmp/r1", LogJSON, ":9100" })},
		{"flag over default",
			nil, []string{"--config", "r1.conf", "--scripts-dir", "/tmp/s", "--state-dir", "/tmp/st", "--log-level", "debug"},
			with(func(o *Options) {
				o.ConfigFile, o.ScriptsDir, o.StateDir, o.LogLevel = "r1.conf", "/tmp/s", "/tmp/st", slog.LevelDebug
			})},
		{"flag over environment",
			map[string]string{"HASUITE_RUN_DIR": "/tmp/from-env", "HASUITE_LOG_LEVEL": "error"}, []string{"--run-dir", "/tmp/from-flag"},
			with(func(o *Options) { o.RunDir, o.LogLevel = "/tmp/from-flag", slog.LevelError })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := optionsFor(t, tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"log format", nil, []string{"--log-format", "xml"}, `--log-format "xml": want text or json`},
		{"log level", nil, []string{"--log-level", "verbose"}, `--log-level "verbose": want debug, info, warn or error`},
		{"empty path from the environment", map[string]string{"HASUITE_STATE_DIR": ""}, nil, "--state-dir is empty: give a path, or unset HASUITE_STATE_DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := optionsFor(t, tt.env, tt.args...)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("got error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSocketPaths(t *testing.T) {
	o := Options{Name: "vrrpd", RunDir: "/tmp/r1"}
	if got, want := o.SocketPath(), "/tmp/r1/vrrpd.sock"; got != want {
		t.Errorf("SocketPath() = %q, want %q", got, want)
	}
	if got, want := o.SocketPathOf("clusterd"), "/tmp/r1/clusterd.sock"; got != want {
		t.Errorf("SocketPathOf(clusterd) = %q, want %q", got, want)
	}
}

func TestMakeRunDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	o := Options{Name: "vrrpd", RunDir: dir}
	if err := o.MakeRunDir(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Fatalf("run dir not created: %v", err)
	}
	if err := o.MakeRunDir(); err != nil {
		t.Errorf("second MakeRunDir: %v", err)
	}
	blocked := Options{RunDir: filepath.Join(dir, "file", "sub")}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := blocked.MakeRunDir(); err == nil || !strings.Contains(err.Error(), "HASUITE_RUN_DIR") {
		t.Errorf("MakeRunDir under a file = %v, want an error naming HASUITE_RUN_DIR", err)
	}
}

func TestVersionFlag(t *testing.T) {
	clearEnv(t)
	defer func(v string) { Version = v }(Version)
	Version = "1.2.3-test"
	app := NewApp("wlbd", "test")
	var out bytes.Buffer
	app.Writer = &out
	if err := app.Run([]string{"wlbd", "--version"}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "wlbd version 1.2.3-test") {
		t.Errorf("--version printed %q", got)
	}
}

func TestEnvVar(t *testing.T) {
	for flag, want := range map[string]string{"run-dir": "HASUITE_RUN_DIR", "config": "HASUITE_CONFIG", "node-name": "HASUITE_NODE_NAME"} {
		if got := EnvVar(flag); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", flag, got, want)
		}
	}
}
