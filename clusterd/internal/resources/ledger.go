package resources

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hasuite/hasuite/pkg/atomicfile"
)

// LedgerFile is the ledger's name inside --state-dir.
const LedgerFile = "cluster-ips.json"

// Ledger records the cluster IPs clusterd has added, so that it recognises
// them as its own, even after being killed (see the package documentation).
// A Ledger with an empty path keeps the records in memory only.
type Ledger struct {
	path string

	mu      sync.Mutex
	entries []Addr
}

// OpenLedger reads the ledger at path (a missing file is an empty ledger).
// An empty path gives an in-memory ledger.
func OpenLedger(path string) (*Ledger, error) {
	l := &Ledger{path: path}
	if path == "" {
		return l, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the cluster IP ledger: %w (check --state-dir)", err)
	}
	if err := json.Unmarshal(data, &l.entries); err != nil {
		return nil, fmt.Errorf("cluster IP ledger %s is corrupt: %w (remove the cluster IPs it lists by hand, then delete it)", path, err)
	}
	return l, nil
}

// Entries returns the recorded addresses.
func (l *Ledger) Entries() []Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// Owns reports whether a, as the kernel shows it, is recorded: same
// interface, address and label.
func (l *Ledger) Owns(a Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.entries, func(e Addr) bool { return sameAddr(e, a) && e.Label == a.Label })
}

// Record adds a and saves the ledger before the caller touches the kernel.
func (l *Ledger) Record(a Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if slices.ContainsFunc(l.entries, func(e Addr) bool { return sameAddr(e, a) && e.Label == a.Label }) {
		return nil
	}
	l.entries = append(l.entries, a)
	return l.saveLocked()
}

// Forget drops a's record once it is gone from the kernel.
func (l *Ledger) Forget(a Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.entries)
	l.entries = slices.DeleteFunc(l.entries, func(e Addr) bool { return sameAddr(e, a) })
	if len(l.entries) == n {
		return nil
	}
	return l.saveLocked()
}

// saveLocked writes the ledger atomically: a crash leaves the old or the
// new one, never half of one.
func (l *Ledger) saveLocked() error {
	if l.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(l.entries, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
		return fmt.Errorf("save the cluster IP ledger: %w (check --state-dir)", err)
	}
	if err := atomicfile.Write(l.path, data, 0o600); err != nil {
		return fmt.Errorf("save the cluster IP ledger %s: %w (check --state-dir)", l.path, err)
	}
	return nil
}

// sameAddr: the same address on the same interface (prefix length,
// broadcast and label aside).
func sameAddr(a, b Addr) bool {
	return a.Interface == b.Interface && a.Prefix.Addr() == b.Prefix.Addr()
}
