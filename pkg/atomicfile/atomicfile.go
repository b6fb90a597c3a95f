// Package atomicfile writes a file whole or not at all. The data goes to a
// temporary file beside the target, which is synced and only then renamed
// (or linked) into place, and the directory is synced after that: a reader
// sees the old file or the new one, never part of one, and after a crash
// the new file is there once the call has returned.
//
// Every write syncs, although only some callers need to survive a crash
// (clusterd's ledger and node UID, not the benches' report or the lab's pid
// files): the files are small and written rarely, and one behaviour is
// easier to trust than two.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces the file at path with data, mode perm exactly (the umask
// does not apply). The directory must exist. On an error the old file, if
// any, is as it was and no temporary file is left.
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, os.Rename)
}

// Create writes the file at path like Write, but only if there is none:
// when there is, the error satisfies errors.Is(err, fs.ErrExist) and the
// file is untouched. Of several processes creating one file at once, one
// wins and the others get that error, so they can read the winner's.
func Create(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, os.Link)
}

// write fills a temporary file and hands it to place (rename or link).
func write(path string, data []byte, perm fs.FileMode, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	// Once renamed there is nothing to remove; once linked, this drops the
	// temporary name and leaves the file under path.
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := place(tmp.Name(), path); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("%s is written but might not survive a crash: %w", path, err)
	}
	return nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
