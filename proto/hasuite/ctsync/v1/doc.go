// Package ctsyncv1 is the generated Go code of ctsyncd's operational API
// (ctsync.proto): the Ctsync service its CLI calls for the show, reset,
// restart, reload, validate, log and monitor commands. Regenerate with
// tools/protogen.sh (make proto); ctsyncd/internal/show renders its
// messages.
package ctsyncv1
