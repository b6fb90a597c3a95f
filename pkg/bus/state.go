package bus

import (
	"strconv"

	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// State is a group's state as a consumer sees it: one of the states a
// producer sends, or one of the consumer-side states the wire never carries.
type State int32

// The producers' states (see busv1.State).
const (
	StateUnspecified = State(busv1.State_STATE_UNSPECIFIED)
	StateInit        = State(busv1.State_STATE_INIT)
	StateBackup      = State(busv1.State_STATE_BACKUP)
	StateMaster      = State(busv1.State_STATE_MASTER)
	StateFault       = State(busv1.State_STATE_FAULT)
	StateActive      = State(busv1.State_STATE_ACTIVE)
	StateStandby     = State(busv1.State_STATE_STANDBY)
	StateDown        = State(busv1.State_STATE_DOWN)
)

// Consumer-side states. Negative so that no future wire state can collide.
const (
	// StateProducerGone: the producer cannot be reached or its stream broke.
	// Its state is unknown; a consumer must not act as primary on it.
	StateProducerGone State = -1
	// StateUnknownGroup: the producer answers but does not have the group,
	// or has just removed it from its configuration.
	StateUnknownGroup State = -2
)

var stateNames = map[State]string{
	StateUnspecified:  "UNSPECIFIED",
	StateInit:         "INIT",
	StateBackup:       "BACKUP",
	StateMaster:       "MASTER",
	StateFault:        "FAULT",
	StateActive:       "ACTIVE",
	StateStandby:      "STANDBY",
	StateDown:         "DOWN",
	StateProducerGone: "PRODUCER_GONE",
	StateUnknownGroup: "UNKNOWN_GROUP",
}

// String returns the state's name as show commands print it, e.g. "MASTER".
func (s State) String() string {
	if name, ok := stateNames[s]; ok {
		return name
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Primary reports whether the state means "this node serves the group's
// traffic": MASTER (VRRP) or ACTIVE (cluster).
func (s State) Primary() bool {
	return s == StateMaster || s == StateActive
}

// publishable reports whether a producer may publish s: only the real
// producer states, never UNSPECIFIED or a value the proto does not define.
func publishable(s busv1.State) bool {
	_, known := busv1.State_name[int32(s)]
	return known && s != busv1.State_STATE_UNSPECIFIED
}
