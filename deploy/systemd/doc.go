// Package systemd holds the hasuite daemons' systemd units (*.service) and
// the tests that keep them loadable and least-privileged. No code uses it.
package systemd
