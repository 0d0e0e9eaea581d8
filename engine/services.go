package engine

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"unicode/utf8"
)

// The two well-known ports every aemp-go node serves (and the Perl peer in
// bench/perl, so that Go and Perl sides are measured alike):
//
//	echo: [REPLYPORT, ARGS...]   -> snd(REPLYPORT, ARGS...)
//	sink: ["report", REPLYPORT]  -> snd(REPLYPORT, "count", N, BYTES, CPUSEC)
//	      ["reset"]              -> N = BYTES = 0
//	      anything else          -> N += 1, BYTES += length of its scalar arguments

// ServeEcho registers the echo port on n.
func ServeEcho(n *Node) error {
	_, err := n.Register("echo", func(m *Message) {
		args, err := m.Args()
		if err != nil || len(args) == 0 {
			return
		}
		if reply, ok := args[0].(string); ok {
			n.Send(reply, args[1:]...)
		}
	})
	return err
}

// Sink counts the messages sent to the sink port.
type Sink struct {
	n            *Node
	count, bytes atomic.Int64
}

// ServeSink registers the sink port on n.
func ServeSink(n *Node) (*Sink, error) {
	s := &Sink{n: n}
	_, err := n.Register("sink", s.handle)
	return s, err
}

// Counts returns the messages and scalar bytes counted since the start or
// the last reset.
func (s *Sink) Counts() (msgs, bytes int64) { return s.count.Load(), s.bytes.Load() }

func (s *Sink) handle(m *Message) {
	// The common case, a message of plain scalars, is counted without
	// decoding anything.
	if m.fm != nil {
		if n, length, first, ok := m.fm.ScalarArgs(); ok && (n == 0 || first != nil) &&
			string(first) != "report" && string(first) != "reset" {
			s.count.Add(1)
			s.bytes.Add(int64(length))
			return
		}
	}
	args, err := m.Args()
	if err != nil {
		return
	}
	if len(args) > 0 {
		switch args[0] {
		case "report":
			if len(args) > 1 {
				if reply, ok := args[1].(string); ok {
					s.n.Send(reply, "count", s.count.Load(), s.bytes.Load(), cpuSeconds())
				}
			}
			return
		case "reset":
			s.count.Store(0)
			s.bytes.Store(0)
			return
		}
	}
	var size int64
	for _, a := range args {
		switch a := a.(type) {
		case string:
			size += int64(utf8.RuneCountInString(a))
		case []byte:
			size += int64(len(a))
		case nil, []any, map[string]any:
		default:
			size += int64(len(scalarText(a)))
		}
	}
	s.count.Add(1)
	s.bytes.Add(size)
}

// cpuSeconds returns this process's user + system CPU time in seconds.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// scalarText is the text Perl's length() would measure for a scalar.
func scalarText(v any) string {
	switch v := v.(type) {
	case bool:
		if v {
			return "1"
		}
		return ""
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}
