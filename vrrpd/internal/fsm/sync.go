package fsm

import "fmt"

// SyncGroup keeps the member groups of one sync group together (VR-B27,
// VR-B28). It is pure like Machine and composes with it through events: the
// engine reports every member Transition to Observe, then feeds each
// returned Command's Event to that member's Machine, and reports the
// transitions that produces in turn, until no command is left. The cascade
// ends because commands only move members towards the state the group
// already chose, and a command that no longer applies is ignored by the
// member's Machine.
//
// Rules:
//   - a member in FAULT holds every member in BACKUP (SyncHold) until no
//     member is in FAULT: a router never runs half of a sync group;
//   - a member leaving MASTER makes every other MASTER member resign
//     (ForceBackup), so the peer router's members take over together;
//   - a member entering MASTER makes every BACKUP member take over too
//     (ForceMaster).
type SyncGroup struct {
	name    string
	members []string // configuration order, for deterministic commands
	state   map[string]State
	held    bool
}

// Command is an event the engine must feed to one member's Machine.
type Command struct {
	Member string
	Event  Event
}

// NewSyncGroup returns the sync group name over the given member names (the
// engine's group keys, e.g. "eth0/10"), all in INIT.
func NewSyncGroup(name string, members []string) *SyncGroup {
	s := &SyncGroup{name: name, members: members, state: make(map[string]State, len(members))}
	for _, m := range members {
		s.state[m] = Init
	}
	return s
}

// Name returns the sync group's name.
func (s *SyncGroup) Name() string { return s.name }

// State is the sync group's state as published on the bus (VR-B29): FAULT
// if a running member is in FAULT, MASTER only when every running member is
// MASTER, INIT when no member runs, else BACKUP.
func (s *SyncGroup) State() State {
	running, masters := 0, 0
	for _, m := range s.members {
		switch s.state[m] {
		case Fault:
			return Fault
		case Master:
			masters++
			running++
		case Backup:
			running++
		}
	}
	switch {
	case running == 0:
		return Init
	case masters == running:
		return Master
	}
	return Backup
}

// Observe records a member's transition and returns the commands for the
// members that must follow. Transitions of unknown members are ignored.
func (s *SyncGroup) Observe(member string, t Transition) []Command {
	if _, ok := s.state[member]; !ok {
		return nil
	}
	s.state[member] = t.To
	var cmds []Command

	if held := s.State() == Fault; held != s.held {
		s.held = held
		reason := fmt.Sprintf("sync group %s: no member in FAULT any more", s.name)
		if held {
			reason = fmt.Sprintf("sync group %s: member %s in FAULT (%s)", s.name, member, t.Reason)
		}
		// Every member, the FAULT one included: when it recovers while
		// another member is still in FAULT, it must come back held.
		for _, m := range s.members {
			cmds = append(cmds, Command{Member: m, Event: SyncHold{Held: held, Reason: reason}})
		}
	}

	switch {
	case t.From == Master && t.To != Master:
		reason := fmt.Sprintf("sync group %s: member %s left MASTER (%s)", s.name, member, t.Reason)
		cmds = append(cmds, s.commandAll(member, Master, ForceBackup{Reason: reason})...)
	case t.To == Master && !s.held:
		reason := fmt.Sprintf("sync group %s: member %s became MASTER (%s)", s.name, member, t.Reason)
		cmds = append(cmds, s.commandAll(member, Backup, ForceMaster{Reason: reason})...)
	}
	return cmds
}

// commandAll returns ev for every member other than except that is in
// state in.
func (s *SyncGroup) commandAll(except string, in State, ev Event) []Command {
	var cmds []Command
	for _, m := range s.members {
		if m != except && s.state[m] == in {
			cmds = append(cmds, Command{Member: m, Event: ev})
		}
	}
	return cmds
}
