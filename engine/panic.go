package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
)

// Code that is not ours runs on the node's goroutines: port handlers,
// monitor callbacks, the node-event hook and spawn init functions. A
// panic in any of them must not take more down than its own port: a Perl
// node kills the port whose handler died, with reason ("die", TEXT), and
// keeps serving (docs/protocol.md section 7).

// handlerPanicked contains a panic of p's handler (v is what it panicked
// with): it logs it with the stack and kills p with reason ("die", TEXT).
// It must be called from the deferred function that recovered, so that
// the stack still shows where the panic happened.
func (n *Node) handlerPanicked(p *port, v any) {
	n.logPanic("port handler panicked; port killed", v, "port", n.id+"#"+p.name)
	n.killPort(p, []any{"die", panicText(v)})
}

// panicText is the text of a panic value as the kill reason carries it:
// like Perl's die message, without trailing newlines.
func panicText(v any) string {
	var s string
	switch v := v.(type) {
	case error:
		s = v.Error()
	case string:
		s = v
	default:
		s = fmt.Sprint(v)
	}
	return strings.TrimRight(s, "\n")
}

// logPanic logs a contained panic with its stack, rate limited (a peer
// can trigger handler panics).
func (n *Node) logPanic(msg string, v any, args ...any) {
	n.logLimitedAt(slog.LevelError, msg, append(args, "panic", panicText(v), "stack", string(debug.Stack()))...)
}

// safely calls f, containing a panic: it is logged with what was called
// (what) and f's caller goes on.
func (n *Node) safely(what string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			n.logPanic(what+" panicked", v)
		}
	}()
	f()
}

// callHandler runs p's handler for a local message, containing a panic.
func (n *Node) callHandler(p *port, m *Message) {
	defer func() {
		if v := recover(); v != nil {
			n.handlerPanicked(p, v)
		}
	}()
	p.handler(m)
}

// logLimited logs at Info level, at most logBurst lines per second; the
// number of lines left out is logged with the next line that gets through.
// A flood of failing connections cannot flood the log.
func (n *Node) logLimited(msg string, args ...any) { n.logLimitedAt(slog.LevelInfo, msg, args...) }

// logLimitedAt is logLimited at the given level.
func (n *Node) logLimitedAt(level slog.Level, msg string, args ...any) {
	if !n.log.Enabled(context.Background(), level) {
		return
	}
	if !n.logAllowed() {
		return
	}
	if s := n.logSuppressed.Swap(0); s > 0 {
		args = append(args, "suppressed_before", s)
	}
	n.log.Log(context.Background(), level, msg, args...)
}
