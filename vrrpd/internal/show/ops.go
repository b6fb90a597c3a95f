package show

import (
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// Restart renders the answer to `restart vrrp [process]` (VR-O06): the
// warnings of the configuration loaded, then what happened. The guide
// prints nothing; one line says the restart took place.
func Restart(resp *vrrpv1.RestartResponse) string {
	return Diagnostics(resp.GetDiagnostics()) +
		"Restarted VRRP: every group resigned and started again from INIT with the configuration file.\n"
}

// DebugLogging renders the answer to `debug vrrp on|off` and `monitor
// vrrp background start|stop` (VR-O09).
func DebugLogging(enabled bool) string {
	if enabled {
		return "VRRP debug logging on: debug records go to the log and `show log vrrp` until `debug vrrp off`.\n"
	}
	return "VRRP debug logging off.\n"
}

// MonitorStarted is the line `monitor vrrp` writes to standard error once
// the daemon streams: events from then on are not missed.
func MonitorStarted(debug bool) string {
	what := "state changes and log records"
	if debug {
		what = "state changes and log records, debug ones included"
	}
	return "Monitoring VRRP " + what + " (Ctrl-C to stop)...\n"
}
