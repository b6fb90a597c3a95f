package daemon

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TrimExecutable shrinks the resident set to the code and data a running
// daemon uses. The kernel maps the executable's pages around each one
// touched (fault-around) and every page start-up touched once stays mapped;
// in a Go binary that is most of its 20-odd MiB. Marking the executable's
// read-only mappings MADV_RANDOM turns fault-around off for them, and
// MADV_DONTNEED drops them from the page tables, so they come back one page
// at a time as they are used. The pages stay in the page cache: nothing is
// read from disk again, and nothing written is touched (only the read-only
// mappings are).
func TrimExecutable() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the executable: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	defer f.Close()
	type region struct{ start, end uintptr }
	var regions []region
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		bounds := strings.SplitN(fields[0], "-", 2)
		start, err1 := strconv.ParseUint(bounds[0], 16, 64)
		end, err2 := strconv.ParseUint(bounds[1], 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		regions = append(regions, region{uintptr(start), uintptr(end)})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, r := range regions {
		for _, advice := range []int{unix.MADV_RANDOM, unix.MADV_DONTNEED} {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, uintptr(advice)); errno != 0 {
				return fmt.Errorf("madvise %#x-%#x: %w", r.start, r.end, errno)
			}
		}
	}
	return nil
}
