package wire

import "fmt"

// String names the type in logs and drop details.
func (t Type) String() string {
	switch t {
	case TypeUpdate:
		return "update"
	case TypeAck:
		return "ack"
	case TypeNack:
		return "nack"
	case TypeAlive:
		return "alive"
	case TypeResyncRequest:
		return "resync-request"
	case TypeRepairRequest:
		return "repair-request"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// String names the record kind.
func (k RecordKind) String() string {
	switch k {
	case RecordUpsert:
		return "upsert"
	case RecordDelete:
		return "delete"
	case RecordExpectUpsert:
		return "expect-upsert"
	case RecordExpectDelete:
		return "expect-delete"
	case RecordSweepBegin:
		return "sweep-begin"
	case RecordSweepEnd:
		return "sweep-end"
	case RecordDigest:
		return "digest"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// String names the table as the show commands do.
func (t Table) String() string {
	switch t {
	case TableMain:
		return "main"
	case TableExpect:
		return "expect"
	}
	return fmt.Sprintf("table(%d)", uint8(t))
}

// String names the state as the show commands do.
func (s State) String() string {
	switch s {
	case StateUnknown:
		return "unknown"
	case StatePrimary:
		return "primary"
	case StateBackup:
		return "backup"
	case StateFault:
		return "fault"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}
