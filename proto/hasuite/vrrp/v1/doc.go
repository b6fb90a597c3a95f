// Package vrrpv1 is the generated Go code of vrrpd's operational API
// (vrrp.proto): the Vrrp service its CLI calls for show, reset, restart,
// reload, validate, log and monitor commands. Regenerate with
// tools/protogen.sh (make proto); vrrpd/internal/show renders its messages.
package vrrpv1
