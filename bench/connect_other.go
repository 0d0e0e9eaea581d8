//go:build !linux

package bench

import "context"

// run drives the units of a connect run; outside Linux with the net
// package.
func (r *connectRun) run(ctx context.Context) error { return r.runNet(ctx) }
