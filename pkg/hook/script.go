// Package hook runs user scripts for the daemons: VRRP transition scripts,
// the WAN load-balancing hook and test scripts, cluster resource scripts.
//
// Resolve and Check locate and vet a script at configuration time. A Runner
// runs scripts without ever blocking its caller: jobs are queued per key (a
// VRRP group, a WAN interface) and run one at a time per key, in submission
// order, while different keys run concurrently. Each run gets a minimal
// environment, its own process group, a timeout that terminates the whole
// group, and its output logged line by line within a size bound. Run is
// the synchronous form, for callers that must wait for a script's end (the
// cluster resources, started one after the other).
package hook

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// DefaultDir is where relative script names are looked up unless the
	// daemon's --scripts-dir says otherwise.
	DefaultDir = "/etc/hasuite/scripts"
	// GuideDir is the reference guide's scripts directory. Absolute names
	// under it, pasted from the guide, fall back to the scripts directory
	// when they do not exist where written.
	GuideDir = "/config/scripts"
)

// Problems Check reports; test for them with errors.Is.
var (
	ErrMissing       = errors.New("does not exist")
	ErrDirectory     = errors.New("is a directory")
	ErrNotExecutable = errors.New("is not executable")
)

// Resolve returns the path of the script called name: an absolute name as
// written, a relative name inside dir (DefaultDir when dir is empty). An
// absolute name under GuideDir that does not exist resolves to the same
// relative name inside dir if that one exists, so the guide's example
// configurations work unchanged.
func Resolve(dir, name string) string {
	if dir == "" {
		dir = DefaultDir
	}
	if !filepath.IsAbs(name) {
		return filepath.Join(dir, name)
	}
	rel, underGuideDir := strings.CutPrefix(name, GuideDir+"/")
	if !underGuideDir || exists(name) {
		return name
	}
	if moved := filepath.Join(dir, rel); exists(moved) {
		return moved
	}
	return name
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// CheckError says why a script cannot run and what to do about it.
type CheckError struct {
	Path    string
	Problem error // ErrMissing, ErrDirectory or ErrNotExecutable
	Hint    string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("script %s %v: %s", e.Path, e.Problem, e.Hint)
}

func (e *CheckError) Unwrap() error { return e.Problem }

// Check reports whether the script at path (as returned by Resolve) can be
// run: it must exist, be a file (symbolic links are followed) and be
// executable by this process. Daemons call it while validating their
// configuration, so a bad script name fails the reload instead of the
// failover.
func Check(path string) error {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &CheckError{Path: path, Problem: ErrMissing, Hint: "create it or correct the name (relative names are looked up in --scripts-dir)"}
	case err != nil:
		return fmt.Errorf("cannot inspect script %s: %w", path, err)
	case info.IsDir():
		return &CheckError{Path: path, Problem: ErrDirectory, Hint: "name the script file inside it"}
	}
	if err := unix.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS); err != nil {
		hint := "chmod +x it"
		if info.Mode().Perm()&0o111 != 0 {
			hint = "its execute bits are set, so check its owner and whether its filesystem is mounted noexec"
		}
		return &CheckError{Path: path, Problem: ErrNotExecutable, Hint: hint}
	}
	return nil
}
