// Package clusterv1 is the generated Go code of clusterd's operational API
// (cluster.proto): the Cluster service its CLI calls for show, reload,
// validate, standby, takeover, log and monitor commands. Regenerate with
// tools/protogen.sh (make proto); clusterd/internal/show renders its
// messages.
package clusterv1
