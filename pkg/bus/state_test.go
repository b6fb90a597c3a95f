package bus

import (
	"testing"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

func TestState(t *testing.T) {
	tests := []struct {
		state   State
		name    string
		primary bool
	}{
		{StateUnspecified, "UNSPECIFIED", false},
		{StateInit, "INIT", false},
		{StateBackup, "BACKUP", false},
		{StateMaster, "MASTER", true},
		{StateFault, "FAULT", false},
		{StateActive, "ACTIVE", true},
		{StateStandby, "STANDBY", false},
		{StateDown, "DOWN", false},
		{StateProducerGone, "PRODUCER_GONE", false},
		{StateUnknownGroup, "UNKNOWN_GROUP", false},
		{State(42), "State(42)", false},
	}
	for _, tt := range tests {
		if got := tt.state.String(); got != tt.name {
			t.Errorf("State(%d).String() = %q, want %q", int32(tt.state), got, tt.name)
		}
		if got := tt.state.Primary(); got != tt.primary {
			t.Errorf("%v.Primary() = %v, want %v", tt.state, got, tt.primary)
		}
	}
}

// Every wire state must have a name, so a state added to the proto cannot
// print as a number.
func TestStateNamesCoverTheProto(t *testing.T) {
	for value, wireName := range busv1.State_name {
		if _, ok := stateNames[State(value)]; !ok {
			t.Errorf("no name for %s", wireName)
		}
	}
}

func TestPublishable(t *testing.T) {
	tests := []struct {
		state busv1.State
		want  bool
	}{
		{busv1.State_STATE_UNSPECIFIED, false},
		{busv1.State_STATE_MASTER, true},
		{busv1.State_STATE_DOWN, true},
		{busv1.State(StateProducerGone), false},
		{busv1.State(99), false},
	}
	for _, tt := range tests {
		if got := publishable(tt.state); got != tt.want {
			t.Errorf("publishable(%v) = %v, want %v", tt.state, got, tt.want)
		}
	}
}
