// Package daemon is the runtime every hasuite binary shares, so that a
// daemon only adds its own subsystem: the global flags (--config, --run-dir,
// --scripts-dir, --state-dir, --log-format, --log-level, --metrics-listen,
// each also read from HASUITE_<FLAG>) and the Options read from them, the
// slog logger and a rate limiter for lines that repeat per packet, systemd
// notification and watchdog, signal handling, and the version string; and
// the plumbing of `run` (serve.go, config.go) and of the commands that ask
// the running daemon (client.go, cli.go) that is the same in every daemon.
package daemon
