package fsm

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Machine is the state machine of one VRRP group. The zero value is not
// usable; create one with New. A Machine is not safe for concurrent use: the
// engine's loop owns it.
type Machine struct {
	cfg   Config
	state State

	// preparing: MASTER claimed, data plane not ready yet (VIPs not added).
	preparing bool
	// vipsHeld: AddVIPs was emitted and RemoveVIPs not since.
	vipsHeld bool

	linkDown, addressLost bool // FAULT causes (VR-B30)
	demoted               bool // a consumer holds a demotion
	syncHeld              bool // the sync group holds the group in BACKUP

	// masterAdverInterval is the interval used for Master_Down_Interval:
	// our own while master, the master's (v3) while backup.
	masterAdverInterval time.Duration

	// Deadlines; the zero time means not armed.
	masterDownAt time.Time
	advertAt     time.Time
	preemptAt    time.Time

	// masterDownWhy explains an expiry of the Master_Down timer, fixed when
	// the timer is armed.
	masterDownWhy string
	// lastMaster is the source and priority of the last advert received
	// while running, for reasons and `show vrrp detail`.
	lastMaster     netip.Addr
	lastMasterPrio uint8
	// answeredAt is when a weaker master's advert was last answered at once.
	answeredAt time.Time

	out []Action
}

// New returns a Machine in INIT for cfg. It assumes the link is up and the
// source address present; the engine reports otherwise before Start.
func New(cfg Config) (*Machine, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	return &Machine{cfg: cfg, masterAdverInterval: cfg.AdvertInterval}, nil
}

func validate(cfg Config) error {
	switch {
	case cfg.Version != 2 && cfg.Version != 3:
		return fmt.Errorf("vrrp version %d unsupported: use 2 or 3", cfg.Version)
	case cfg.Priority == 0:
		return errors.New("priority 0 is reserved for resignation: use 1-255")
	case cfg.AdvertInterval <= 0:
		return fmt.Errorf("advertise interval %v must be positive", cfg.AdvertInterval)
	case cfg.PreemptDelay < 0:
		return fmt.Errorf("preempt delay %v must not be negative", cfg.PreemptDelay)
	case !cfg.PrimaryIP.IsValid():
		return errors.New("primary address missing: the election tie-break needs the advert source address")
	}
	return nil
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Preparing reports whether the group is MASTER with its data plane still
// being prepared (takeover gates pending, VIPs not added yet).
func (m *Machine) Preparing() bool { return m.state == Master && m.preparing }

// Config returns the configuration in force.
func (m *Machine) Config() Config { return m.cfg }

// LastMaster returns the source address and priority of the last
// advertisement received (invalid address if none).
func (m *Machine) LastMaster() (netip.Addr, uint8) { return m.lastMaster, m.lastMasterPrio }

// MasterDownInterval is 3 × Master_Adver_Interval + Skew_Time (RFC 3768
// §6.1, RFC 5798 §6.1).
func (m *Machine) MasterDownInterval() time.Duration {
	return 3*m.masterAdverInterval + m.SkewTime()
}

// SkewTime is (256 − priority)/256 s for version 2 and
// (256 − priority) × Master_Adver_Interval / 256 for version 3, so the
// highest-priority backup's timer expires first (VR-B05).
func (m *Machine) SkewTime() time.Duration {
	unit := time.Second
	if m.cfg.Version == 3 {
		unit = m.masterAdverInterval
	}
	return time.Duration(256-int64(m.cfg.Priority)) * unit / 256
}

// NextDeadline returns the earliest armed deadline, or false if no timer is
// armed. The engine re-arms its timer to it after every Handle and sends
// TimerFired when it passes.
func (m *Machine) NextDeadline() (time.Time, bool) {
	var next time.Time
	for _, t := range []time.Time{m.masterDownAt, m.advertAt, m.preemptAt} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next, !next.IsZero()
}

// Handle applies ev at time now and returns the actions to execute, in
// order. The returned slice is the caller's.
func (m *Machine) Handle(now time.Time, ev Event) []Action {
	m.out = nil
	switch ev := ev.(type) {
	case Start:
		if m.state == Init {
			m.startRunning(now, "started")
		}
	case Enable:
		if m.state == Disabled {
			m.startRunning(now, "enabled")
		}
	case Shutdown:
		m.stop(Init, "shut down")
	case Disable:
		m.stop(Disabled, "disabled")
	case LinkDown:
		m.linkDown = true
		m.faultCauseAppeared("interface link down")
	case LinkUp:
		m.linkDown = false
		m.faultCauseCleared(now, "interface link up")
	case AddressLost:
		m.addressLost = true
		m.faultCauseAppeared("advertisement source address missing")
	case AddressRestored:
		m.addressLost = false
		m.faultCauseCleared(now, "advertisement source address present")
	case Advert:
		if m.state != Backup && m.state != Master {
			break // INIT, FAULT and DISABLED take no part in the election
		}
		m.lastMaster, m.lastMasterPrio = ev.Source, ev.Priority
		if m.state == Backup {
			m.backupReceived(now, ev)
		} else {
			m.masterReceived(now, ev)
		}
	case TimerFired:
		m.timerFired(now)
	case GatesDone:
		if m.Preparing() {
			m.preparing = false
			m.vipsHeld = true
			m.emit(AddVIPs{}, SendGARP{}, RunScript{State: Master})
		}
	case ResetMaster:
		if m.state == Master {
			m.enterBackup(now, "reset vrrp master", true)
		}
	case Demotion:
		m.demoted = ev.Held
		if !m.preemptAllowed() {
			m.preemptAt = time.Time{}
		}
	case ForceBackup:
		if m.state == Master {
			m.enterBackup(now, ev.Reason, true)
		}
	case ForceMaster:
		if m.state == Backup && !m.syncHeld {
			m.enterMaster(now, ev.Reason)
		}
	case SyncHold:
		m.syncHeld = ev.Held
		if ev.Held {
			m.preemptAt = time.Time{}
			if m.state == Master {
				m.enterBackup(now, ev.Reason, true)
			}
		}
	}
	return m.out
}

func (m *Machine) emit(a ...Action) { m.out = append(m.out, a...) }

// running reports whether the group takes part in the protocol (not INIT,
// not DISABLED).
func (m *Machine) running() bool { return m.state != Init && m.state != Disabled }

func (m *Machine) faulty() bool { return m.linkDown || m.addressLost }

// preemptAllowed reports whether a backup may take over from a live master
// with a lower priority now.
func (m *Machine) preemptAllowed() bool {
	return m.cfg.mayPreempt() && !m.demoted && !m.syncHeld
}

// startRunning is the RFC's Startup event (VR-B04): FAULT if a cause is
// present, MASTER at once for the owner, else BACKUP.
func (m *Machine) startRunning(now time.Time, reason string) {
	switch {
	case m.faulty():
		m.enterFault(reason + " with " + m.faultCause())
	case m.cfg.owner() && !m.syncHeld:
		m.enterMaster(now, reason+" as address owner (priority 255)")
	default:
		m.enterBackup(now, reason, false)
	}
}

func (m *Machine) faultCause() string {
	switch {
	case m.linkDown && m.addressLost:
		return "interface link down and advertisement source address missing"
	case m.linkDown:
		return "interface link down"
	}
	return "advertisement source address missing"
}

func (m *Machine) faultCauseAppeared(cause string) {
	if m.running() && m.state != Fault {
		m.enterFault(cause)
	}
}

func (m *Machine) faultCauseCleared(now time.Time, what string) {
	if m.state == Fault && !m.faulty() {
		m.startRunning(now, what)
	}
}

func (m *Machine) stop(to State, reason string) {
	if m.state == to {
		return
	}
	from := m.state
	if from == Master {
		m.leaveMaster(true)
	}
	m.disarm()
	m.state = to
	m.emit(Transition{From: from, To: to, Reason: reason})
}

func (m *Machine) disarm() {
	m.masterDownAt, m.advertAt, m.preemptAt = time.Time{}, time.Time{}, time.Time{}
}

// enterMaster claims the role: advertise at once, then prepare the data
// plane; the VIPs follow on GatesDone.
func (m *Machine) enterMaster(now time.Time, reason string) {
	from := m.state
	m.disarm()
	m.state = Master
	m.preparing = true
	m.masterAdverInterval = m.cfg.AdvertInterval
	m.emit(Transition{From: from, To: Master, Reason: reason})
	m.advertise(now)
	m.emit(PrepareDataPlane{})
}

// enterBackup moves to BACKUP and arms the Master_Down timer; a master
// resigns with a priority-0 advert when resign is set (VR-B12), so the
// other routers take over after their skew time.
func (m *Machine) enterBackup(now time.Time, reason string, resign bool) {
	from := m.state
	if from == Master {
		m.leaveMaster(resign)
	}
	m.disarm()
	m.state = Backup
	m.armMasterDown(now, m.MasterDownInterval(), "no advert for")
	m.emit(Transition{From: from, To: Backup, Reason: reason}, RunScript{State: Backup})
}

func (m *Machine) enterFault(reason string) {
	from := m.state
	if from == Master {
		// No priority-0 advert: without link or source address it cannot
		// be sent.
		m.leaveMaster(false)
	}
	m.disarm()
	m.state = Fault
	m.emit(Transition{From: from, To: Fault, Reason: reason}, RunScript{State: Fault})
}

func (m *Machine) leaveMaster(resign bool) {
	if resign {
		m.emit(SendAdvert{Priority: 0})
	}
	if m.preparing {
		m.emit(CancelPrepare{})
	}
	if m.vipsHeld {
		m.emit(RemoveVIPs{})
	}
	m.preparing, m.vipsHeld = false, false
}

func (m *Machine) advertise(now time.Time) {
	m.emit(SendAdvert{Priority: m.cfg.Priority})
	m.advertAt = now.Add(m.cfg.AdvertInterval)
}

// armMasterDown arms the Master_Down timer for d; why+d explains an expiry.
func (m *Machine) armMasterDown(now time.Time, d time.Duration, why string) {
	m.masterDownAt = now.Add(d)
	m.masterDownWhy = fmt.Sprintf("%s %v", why, d.Round(time.Millisecond))
}

// adoptInterval applies RFC 5798 §6.4.2: a version 3 backup uses the
// master's advertised interval for its Master_Down_Interval.
func (m *Machine) adoptInterval(ad Advert) {
	if m.cfg.Version == 3 && ad.Interval > 0 {
		m.masterAdverInterval = ad.Interval
	}
}

// backupReceived is RFC 3768 §6.4.2 with preempt-delay (VR-B09) and
// demotion.
func (m *Machine) backupReceived(now time.Time, ad Advert) {
	if ad.Priority == 0 {
		m.armMasterDown(now, m.SkewTime(), fmt.Sprintf("master %v resigned (priority 0), skew time", ad.Source))
		return
	}
	if ad.Priority >= m.cfg.Priority || !m.preemptAllowed() {
		m.adoptInterval(ad)
		m.preemptAt = time.Time{}
		m.armMasterDown(now, m.MasterDownInterval(), "no advert for")
		return
	}
	// A lower-priority master and we may preempt.
	if m.cfg.PreemptDelay == 0 {
		// RFC: discard the advert, so the Master_Down timer runs out and
		// we take over.
		return
	}
	if m.preemptAt.IsZero() {
		m.preemptAt = now.Add(m.cfg.PreemptDelay)
	}
	// Keep the master until the delay is over.
	m.adoptInterval(ad)
	m.armMasterDown(now, m.MasterDownInterval(), "no advert for")
}

// masterReceived is RFC 3768 §6.4.3 (VR-B06, VR-B07).
func (m *Machine) masterReceived(now time.Time, ad Advert) {
	peerWins := ad.Priority > m.cfg.Priority ||
		(ad.Priority == m.cfg.Priority && ad.Source.Compare(m.cfg.PrimaryIP) > 0)
	if ad.Priority != 0 && peerWins {
		m.adoptInterval(ad)
		reason := fmt.Sprintf("preempted by %v priority %d", ad.Source, ad.Priority)
		if ad.Priority == m.cfg.Priority {
			reason = fmt.Sprintf("lost tie-break at priority %d to higher address %v", ad.Priority, ad.Source)
		}
		m.enterBackup(now, reason, false)
		return
	}
	if ad.Priority == 0 {
		// RFC: a resigning router's peers learn at once who is master.
		m.advertise(now)
		return
	}
	// VR-B07: answer a weaker master at once so it steps down, but at most
	// once per interval: two routers that both see the other as weaker
	// (duplicate address and priority) must not ping-pong at wire speed.
	// Two masters mean a split brain has just healed: hosts that learned
	// the loser's MAC for the VIPs (legacy mode) or switches that learned
	// the virtual MAC on the loser's port go on sending there until told
	// otherwise, so the winner announces its VIPs again at once rather
	// than at the next refresh (keepalived waits for it).
	if m.answeredAt.IsZero() || now.Sub(m.answeredAt) >= m.cfg.AdvertInterval {
		m.answeredAt = now
		m.advertise(now)
		if m.vipsHeld {
			m.emit(SendGARP{})
		}
	}
}

func (m *Machine) timerFired(now time.Time) {
	due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	switch m.state {
	case Master:
		if due(m.advertAt) {
			// Keep the advert's phase: the next one is due an interval
			// after this one was, not after the late wakeup that sent
			// it. Otherwise each group's phase drifts by its own
			// wakeup latencies, and the adverts of groups started
			// together, which the runtime sends on one wakeup, end up
			// spread over the interval, a wakeup each.
			next := m.advertAt.Add(m.cfg.AdvertInterval)
			m.advertise(now)
			if next.After(now) {
				m.advertAt = next
			}
		}
	case Backup:
		switch {
		case due(m.masterDownAt) && m.syncHeld:
			m.armMasterDown(now, m.MasterDownInterval(), "no advert for")
		case due(m.masterDownAt):
			m.enterMaster(now, "master down timer expired ("+m.masterDownWhy+")")
		case due(m.preemptAt):
			m.preemptAt = time.Time{}
			m.enterMaster(now, fmt.Sprintf("preempted %v priority %d after preempt-delay %v",
				m.lastMaster, m.lastMasterPrio, m.cfg.PreemptDelay))
		}
	}
}

// Reconfigure applies a reloaded configuration without resetting the state
// or the timers (VR-B33): the new values take effect at the next step that
// uses them (the next advert sent, the next Master_Down timer armed). It
// returns no actions; an invalid configuration is refused and the old one
// kept.
func (m *Machine) Reconfigure(cfg Config) error {
	if err := validate(cfg); err != nil {
		return fmt.Errorf("keeping the running vrrp group configuration: %w", err)
	}
	m.cfg = cfg
	// A version 3 backup keeps the interval adopted from the master.
	if m.state != Backup || cfg.Version == 2 {
		m.masterAdverInterval = cfg.AdvertInterval
	}
	if !m.preemptAllowed() {
		m.preemptAt = time.Time{}
	}
	return nil
}
