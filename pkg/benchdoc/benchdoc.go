// Package benchdoc is what the `make bench` packages (vrrpd/bench,
// clusterd/bench, ctsyncd/bench) share to publish their figures: each
// renders its own section of docs/benchmarks.md and Update puts it between
// that daemon's markers, leaving the hand-written text and the other
// daemons' sections as they are; the number formats keep the tables alike.
// Main is their TestMain, Machine the line saying where the figures come
// from, EnvInt and EnvDuration read their knobs.
//
// Several benches may rewrite the file in one `make bench`, so Update reads
// it just before writing and replaces it by a rename: a reader never sees a
// half-written file, and only two benches finishing at the same moment can
// lose one's new figures (rerun it).
package benchdoc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hasuite/hasuite/pkg/atomicfile"
)

// docPath is where the figures go, from the module root.
const docPath = "docs/benchmarks.md"

// BeginMarker and EndMarker delimit a daemon's generated section. vrrpd's
// section came first and its markers carry no name: daemon "" gives them.
// No marker contains another, so the sections can stand in any order.
func BeginMarker(daemon string) string {
	return "<!-- BEGIN GENERATED " + named(daemon) + "by make bench: edit outside the markers -->"
}

// EndMarker is the line that ends daemon's section; see BeginMarker.
func EndMarker(daemon string) string { return "<!-- END GENERATED " + named(daemon) + "-->" }

func named(daemon string) string {
	if daemon == "" {
		return ""
	}
	return daemon + " "
}

// Splice puts section (its markers included) in place of daemon's section
// of doc, markers and all. The error names the lines to add when doc has
// none.
func Splice(doc, daemon, section string) (string, error) {
	begin, end := BeginMarker(daemon), EndMarker(daemon)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		what := "generated"
		if daemon != "" {
			what = daemon
		}
		return "", fmt.Errorf("no %s section: put the lines %s and %s where its figures go", what, begin, end)
	}
	return doc[:i] + strings.TrimSuffix(section, "\n") + doc[j+len(end):], nil
}

// Update replaces daemon's section of docs/benchmarks.md, found from the
// working directory (a bench runs in its package's directory).
func Update(daemon, section string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	return updateFile(filepath.Join(root, filepath.FromSlash(docPath)), daemon, section)
}

func updateFile(path, daemon, section string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w (it holds the hand-written text and the markers %q, %q)",
			path, err, BeginMarker(daemon), EndMarker(daemon))
	}
	text, err := Splice(string(old), daemon, section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, []byte(text), 0o644)
}

// ModuleRoot is the nearest directory holding go.mod at or above the
// working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return moduleRootFrom(dir)
}

func moduleRootFrom(dir string) (string, error) {
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no go.mod above the working directory: run from the module")
}
