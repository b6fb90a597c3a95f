package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/bus"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// TestCS_B10_B13_Transitions walks the producer states through the
// controller: each row is the state after the previous rows, and the
// steps it must cause (none when the mode does not change: level-
// triggered updates repeat).
func TestCS_B10_B13_Transitions(t *testing.T) {
	type row struct {
		state   bus.State
		prepare bool // a takeover gate's prepare came before this update
		want    []Step
		mode    Mode
	}
	tests := []struct {
		name string
		rows []row
	}{
		{"backup then takeover without a gate", []row{
			{bus.StateBackup, false, []Step{StepRequestResync}, ModeBackup},
			{bus.StateBackup, false, nil, ModeBackup},
			{bus.StateMaster, false, []Step{StepCommit, StepFlushExternal, StepSendFull}, ModePrimary},
		}},
		{"takeover through the gate commits once", []row{
			{bus.StateBackup, false, []Step{StepRequestResync}, ModeBackup},
			{bus.StateMaster, true, []Step{StepFlushExternal, StepSendFull}, ModePrimary},
		}},
		{"cluster states", []row{
			{bus.StateStandby, false, []Step{StepRequestResync}, ModeBackup},
			{bus.StateActive, false, []Step{StepCommit, StepFlushExternal, StepSendFull}, ModePrimary},
			{bus.StateDown, false, []Step{StepShortenTimeouts}, ModeFault},
		}},
		{"primary losing its producer keeps its timeouts", []row{
			{bus.StateMaster, false, []Step{StepCommit, StepFlushExternal, StepSendFull}, ModePrimary},
			{bus.StateProducerGone, false, nil, ModeFault},
			{bus.StateUnknownGroup, false, nil, ModeFault},
			{bus.StateMaster, false, []Step{StepCommit, StepFlushExternal, StepSendFull}, ModePrimary},
		}},
		{"primary faulting shortens timeouts once", []row{
			{bus.StateMaster, false, []Step{StepCommit, StepFlushExternal, StepSendFull}, ModePrimary},
			{bus.StateFault, false, []Step{StepShortenTimeouts}, ModeFault},
			{bus.StateFault, false, nil, ModeFault},
		}},
		{"a fault from backup keeps everything", []row{
			{bus.StateBackup, false, []Step{StepRequestResync}, ModeBackup},
			{bus.StateFault, false, nil, ModeFault},
			{bus.StateBackup, false, []Step{StepRequestResync}, ModeBackup},
		}},
		{"an aborted takeover commits again next time", []row{
			{bus.StateBackup, false, []Step{StepRequestResync}, ModeBackup},
			{bus.StateBackup, true, nil, ModeBackup},
			{bus.StateMaster, false, []Step{StepCommit, StepFlushExternal, StepSendFull}, ModePrimary},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c controller
			now := t0
			for i, r := range tt.rows {
				now = now.Add(time.Second)
				if r.prepare && !c.onPrepare() {
					t.Fatalf("row %d: prepare did not ask for a commit", i)
				}
				got := c.onUpdate(now, r.state, "test")
				if !slices.Equal(got, r.want) {
					t.Errorf("row %d (%v): steps %v, want %v", i, r.state, got, r.want)
				}
				if c.mode != r.mode {
					t.Errorf("row %d (%v): mode %v, want %v", i, r.state, c.mode, r.mode)
				}
			}
		})
	}
}

// A prepare on a node already PRIMARY (the MASTER update came first) or a
// second prepare of the same takeover commits nothing more.
func TestPrepareCommitsOnce(t *testing.T) {
	var c controller
	if !c.onPrepare() {
		t.Fatal("first prepare did not commit")
	}
	if c.onPrepare() {
		t.Error("second prepare committed again")
	}
	c.onUpdate(t0, bus.StateMaster, "")
	if c.onPrepare() {
		t.Error("prepare while PRIMARY committed")
	}
}
