package hook

import (
	"context"
	"errors"
	"time"
)

// Run runs job after every job already submitted for key, like Submit, and
// waits for its Result: for callers that must know how a script ended
// before going on, such as cluster resources started in order. job.Done,
// if set, is still called.
//
// A deadline on ctx shortens the job's timeout, so the script is
// terminated (with its process group) by then and Run returns its Result,
// TimedOut set. If ctx is cancelled otherwise before the script ends, Run
// returns at once with ctx's error in Err and ExitCode -1; the script goes
// on under its own timeout, and later jobs for key still wait for it. A
// ctx already done runs nothing.
func (r *Runner) Run(ctx context.Context, key string, job Job) Result {
	timeout := job.Timeout
	if timeout <= 0 {
		timeout = r.opts.Timeout
	}
	if deadline, ok := ctx.Deadline(); ok {
		// A timeout of zero would mean "the default": keep it positive.
		timeout = max(min(timeout, time.Until(deadline)), time.Millisecond)
	}
	job.Timeout = timeout

	done := make(chan Result, 1)
	callerDone := job.Done
	job.Done = func(res Result) {
		if callerDone != nil {
			callerDone(res)
		}
		done <- res
	}
	abandoned := Result{Key: key, Script: Resolve(r.opts.ScriptsDir, job.Script), ExitCode: -1}
	if err := context.Cause(ctx); err != nil {
		abandoned.Err = err
		return abandoned
	}
	if err := r.Submit(key, job); err != nil {
		abandoned.Err = err
		return abandoned
	}
	select {
	case res := <-done:
		return res
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The script's own timeout ends it as well; its Result says
			// how, within the kill grace.
			return <-done
		}
		abandoned.Err = context.Cause(ctx)
		return abandoned
	}
}
