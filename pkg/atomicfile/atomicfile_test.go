package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// only fails unless dir holds exactly the names given: a temporary file
// left behind shows here.
func only(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func check(t *testing.T, path, want string, perm fs.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != perm {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), perm)
	}
}

func TestWrite(t *testing.T) {
	// The umask must not matter: the modes are set exactly.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	tests := []struct {
		name     string
		existing bool
		perm     fs.FileMode
	}{
		{"new file, world-readable", false, 0o644},
		{"new file, private", false, 0o600},
		{"replaces a file, its mode too", true, 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tt.existing {
				if err := os.WriteFile(path, []byte("a much longer old content\n"), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(path, []byte("new\n"), tt.perm); err != nil {
				t.Fatal(err)
			}
			check(t, path, "new\n", tt.perm)
			only(t, dir, "f")
		})
	}
}

// TestWriteReplacesWhole: a reader that opened the old file still reads
// all of it, so the new one took its place rather than overwriting it.
func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := Write(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(reader); err != nil || string(got) != "old\n" {
		t.Errorf("the old file's reader got %q, %v; want %q", got, err, "old\n")
	}
	check(t, path, "new\n", 0o644)
}

// TestWriteNeverPartial: readers racing a writer see one whole version or
// the other, never a mix or a short file.
func TestWriteNeverPartial(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	versions := [][]byte{bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 32<<10)}
	if err := Write(path, versions[0], 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range 30 {
			if err := Write(path, versions[i%2], 0o644); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 100_000; i++ {
				select {
				case <-done:
					return
				default:
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
					t.Errorf("a reader saw %d bytes that are neither version", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
	only(t, dir, "f")
}

func TestWriteErrors(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := Write(filepath.Join(dir, "no", "f"), []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v, want one saying the directory does not exist", err)
		}
		only(t, dir)
	})
	t.Run("rename fails", func(t *testing.T) {
		// A non-empty directory where the file should go: the temporary
		// file is written, the rename refused, and the file must go.
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Write(path, []byte("x"), 0o644); err == nil {
			t.Error("no error writing over a non-empty directory")
		}
		only(t, dir, "f")
	})
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uid")
	if err := Create(path, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	check(t, path, "first\n", 0o600)
	only(t, dir, "uid")

	err := Create(path, []byte("second\n"), 0o644)
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over an existing file: error %v, want fs.ErrExist", err)
	}
	check(t, path, "first\n", 0o600)
	only(t, dir, "uid")
}

// TestCreateOneWinner: of concurrent creators exactly one succeeds, and
// the file holds what it wrote.
func TestCreateOneWinner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uid")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = Create(path, fmt.Appendf(nil, "%d\n", i), 0o600) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("creators %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("creator %d: %v, want fs.ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no creator succeeded")
	}
	check(t, path, fmt.Sprintf("%d\n", winner), 0o600)
	only(t, dir, "uid")
}
