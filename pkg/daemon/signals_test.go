package daemon

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestHandleSignals(t *testing.T) {
	ctx, reload, stop := HandleSignals(context.Background())
	defer stop()
	timeout := time.After(patience)

	if err := unix.Kill(os.Getpid(), unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reload:
	case <-timeout:
		t.Fatal("SIGHUP did not arrive as a reload")
	}
	if ctx.Err() != nil {
		t.Fatal("SIGHUP cancelled the context")
	}

	// Only one SIGTERM: it restores the default action, so a second one
	// would end the test binary.
	if err := unix.Kill(os.Getpid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-timeout:
		t.Fatal("SIGTERM did not cancel the context")
	}
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "terminated") {
		t.Errorf("context.Cause = %v, want it to name the signal", cause)
	}
}

func TestHandleSignalsStop(t *testing.T) {
	ctx, _, stop := HandleSignals(context.Background())
	stop()
	if ctx.Err() == nil {
		t.Error("stop did not cancel the context")
	}
}
