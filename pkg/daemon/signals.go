package daemon

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// HandleSignals returns a context cancelled on the first SIGINT or SIGTERM
// (context.Cause names the signal) and a channel receiving SIGHUP, the
// reload request; SIGHUPs arriving while one is pending are merged. After
// the first SIGINT or SIGTERM the default action is restored, so a second
// one kills a daemon whose shutdown hangs. Call stop to release the
// signals once the daemon no longer handles them.
func HandleSignals(parent context.Context) (ctx context.Context, reload <-chan os.Signal, stop func()) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGINT, unix.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, unix.SIGHUP)

	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		defer signal.Stop(term)
		select {
		case sig := <-term:
			cancel(fmt.Errorf("received %v", sig))
		case <-ctx.Done():
		}
	}()
	return ctx, hup, func() {
		cancel(context.Canceled)
		signal.Stop(hup)
	}
}
