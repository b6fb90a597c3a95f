// Package busv1 is the generated Go code of the failover bus API
// (bus.proto): the Failover service that producers of failover state
// implement and consumers watch. Regenerate with tools/protogen.sh (make
// proto); pkg/bus holds the hand-written plumbing around it.
package busv1
