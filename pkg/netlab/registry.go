package netlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// registryDir holds one record per lab that exists on the machine. A
// variable so the registry's own tests can use a temporary directory.
var registryDir = "/run/hasuite-netlab"

// ErrNoLab reports that no lab with the given prefix exists.
var ErrNoLab = errors.New("no such lab")

// record is what the registry keeps about a lab: who owns it, so Sweep can
// tell a crashed run's leftovers from a live lab.
type record struct {
	Prefix string `json:"prefix"`
	// OwnerPID and OwnerStart (the owner's start time in clock ticks since
	// boot, from /proc/<pid>/stat) identify the owning process even if its
	// PID is reused. Both are zero for a persistent lab.
	OwnerPID   int       `json:"owner_pid,omitempty"`
	OwnerStart uint64    `json:"owner_start,omitempty"`
	Persistent bool      `json:"persistent"`
	Created    time.Time `json:"created"`
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{1,9}$`)

func checkPrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("lab prefix %q: want 2 to 10 lowercase letters and digits, starting with a letter", prefix)
	}
	return nil
}

// randomPrefix returns "hs", four random lowercase letters or digits and a
// digit. The final digit keeps it apart from fixed, word-like prefixes such
// as the lab program's "hslab"; claim makes it unique.
func randomPrefix() string {
	const letters, digits = "abcdefghijklmnopqrstuvwxyz0123456789", "0123456789"
	b := []byte("hs")
	for range 4 {
		b = append(b, letters[rand.N(len(letters))])
	}
	return string(append(b, digits[rand.N(len(digits))]))
}

func recordPath(prefix string) string { return filepath.Join(registryDir, prefix) }

// claim writes the lab's record, failing if the prefix is taken. The record
// is written whole to a temporary file and linked into place, so a reader
// never sees a partial record and two claimants cannot both win.
func claim(rec record) error {
	if err := os.MkdirAll(registryDir, 0o755); err != nil {
		return fmt.Errorf("create the lab registry: %w", err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(registryDir, ".claim-"+rec.Prefix+"-*")
	if err != nil {
		return fmt.Errorf("record lab %s: %w", rec.Prefix, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("record lab %s: %w", rec.Prefix, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("record lab %s: %w", rec.Prefix, err)
	}
	if err := os.Link(tmp.Name(), recordPath(rec.Prefix)); err != nil {
		return fmt.Errorf("record lab %s: %w", rec.Prefix, err)
	}
	return nil
}

func readRecord(prefix string) (record, error) {
	data, err := os.ReadFile(recordPath(prefix))
	if err != nil {
		return record{}, err
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return record{}, fmt.Errorf("lab record %s: %w", recordPath(prefix), err)
	}
	return rec, nil
}

// ownerRecord describes a lab owned by this process.
func ownerRecord(prefix string) (record, error) {
	start, err := processStart(os.Getpid())
	if err != nil {
		return record{}, fmt.Errorf("read this process's start time: %w", err)
	}
	return record{Prefix: prefix, OwnerPID: os.Getpid(), OwnerStart: start, Created: time.Now()}, nil
}

// ownerAlive reports whether the process that built the lab still runs.
func (r record) ownerAlive() bool {
	start, err := processStart(r.OwnerPID)
	return err == nil && start == r.OwnerStart
}

// processStart returns when a live process started, in clock ticks since
// boot, and an error for processes gone or only zombies.
func processStart(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process %d", pid)
	}
	fields, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want at least 20", pid, len(fields))
	}
	if state := fields[0]; state == "Z" || state == "X" {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// Sweep removes the labs whose owner has died without tearing them down: a
// test binary that crashed or was killed. Labs of live processes and
// persistent labs are left alone, so it is safe while other test binaries
// run. It returns the prefixes it removed.
func Sweep() ([]string, error) {
	entries, err := os.ReadDir(registryDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the lab registry: %w", err)
	}
	var swept []string
	var errs []error
	for _, e := range entries {
		prefix := e.Name()
		if checkPrefix(prefix) != nil {
			continue // a claim in progress, or not ours
		}
		rec, err := readRecord(prefix)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile by its owner or another sweeper
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rec.Persistent || rec.ownerAlive() {
			continue
		}
		if err := Destroy(prefix); err != nil {
			errs = append(errs, err)
			continue
		}
		swept = append(swept, prefix)
	}
	return swept, errors.Join(errs...)
}

// Destroy removes every trace of the lab with the given prefix, whoever owns
// it: it kills the processes in its namespaces, deletes the namespaces (and
// with them every link of the lab) and drops its record. Removing a lab that
// does not exist is not an error.
func Destroy(prefix string) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	names, err := namespacesWithPrefix(prefix)
	if err != nil {
		return fmt.Errorf("destroy lab %s: %w", prefix, err)
	}
	if err := killProcessesIn(names); err != nil {
		return fmt.Errorf("destroy lab %s: %w", prefix, err)
	}
	var errs []error
	for _, name := range names {
		errs = append(errs, deleteNamespace(name))
	}
	errs = append(errs, removeDetachedState(prefix))
	if err := os.Remove(recordPath(prefix)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy lab %s: %w", prefix, err)
	}
	return nil
}
