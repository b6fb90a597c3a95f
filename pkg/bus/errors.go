package bus

import (
	"errors"
	"fmt"
	"io/fs"
)

// ErrAlreadyRunning is matched (errors.Is) by the error [Listen] returns
// when another process answers on the socket.
var ErrAlreadyRunning = errors.New("already running")

// ErrUnreachable is matched (errors.Is) by the error [Dial] returns when
// nothing answers on the socket.
var ErrUnreachable = errors.New("daemon unreachable")

type alreadyRunningError struct {
	daemon, path string
}

func (e *alreadyRunningError) Error() string {
	return fmt.Sprintf("another %s is already running on %s: stop it first, or give this one another --run-dir",
		e.daemon, e.path)
}

func (e *alreadyRunningError) Is(target error) bool { return target == ErrAlreadyRunning }

type unreachableError struct {
	daemon, path string
	cause        error // e.g. "connect: no such file or directory"
}

func (e *unreachableError) Error() string {
	hint := "is it running?"
	if errors.Is(e.cause, fs.ErrPermission) {
		hint = "run as root or add the user to group " + DefaultAccessGroup
	}
	return fmt.Sprintf("cannot reach %s at %s: %s (%v)", e.daemon, e.path, hint, e.cause)
}

func (e *unreachableError) Is(target error) bool { return target == ErrUnreachable }

func (e *unreachableError) Unwrap() error { return e.cause }
