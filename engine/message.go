package engine

import "github.com/aemp-go/aemp/framing"

// Message is one message delivered to a port handler. It is valid only
// while the handler runs; Clone makes a copy that stays valid.
type Message struct {
	conn   *conn
	source string
	fm     *framing.Message // from another node: the frame
	args   []any            // local, or decoded
	local  bool
}

// Source returns the ID of the node the message came from (our own ID for
// local messages).
func (m *Message) Source() string { return m.source }

// Args decodes and returns the message's arguments (everything after the
// port name). From another node they arrive as the framing decodes them
// (package framing's value model: string, []byte for a Perl byte string,
// int64, float64 or framing.Number, bool, nil, []any, map[string]any; the
// framing converters Text, Int64, Float64 and Bool read them the way Perl
// would); from this node they are the Go values the sender passed, not
// copied. Decoded values never alias the connection's buffers and stay
// valid after the handler returns; the Message itself does not. Call it
// only from the handler that got the Message.
func (m *Message) Args() ([]any, error) {
	if m.args != nil || m.fm == nil {
		return m.args, nil
	}
	a, err := m.fm.Args()
	if err != nil {
		return nil, err
	}
	m.args = a
	return a, nil
}

// Raw returns the encoded frame as it arrived (nil for a local message).
// The bytes are valid only while the handler runs.
func (m *Message) Raw() []byte {
	if m.fm == nil {
		return nil
	}
	return m.fm.Raw()
}

// ScalarArgs summarizes the arguments without decoding or allocating, for
// handlers that only count or route: their number, the summed length of
// the scalar ones as Perl's length() counts it, and the first argument
// when it is a plain string (valid only while the handler runs). ok is
// false when the quick walk cannot tell (containers, escapes, local
// messages); use Args then.
func (m *Message) ScalarArgs() (n, length int, first []byte, ok bool) {
	if m.fm == nil {
		return 0, 0, nil, false
	}
	return m.fm.ScalarArgs()
}

// Framing names the framing the message arrived in ("" for local ones).
func (m *Message) Framing() string {
	if m.fm == nil {
		return ""
	}
	return m.fm.Framing()
}

// Clone returns a copy of m that stays valid after the handler returns
// (the arguments decoded). Call it from the handler that got m; the copy
// may then go to any goroutine.
func (m *Message) Clone() (*Message, error) {
	args, err := m.Args()
	if err != nil {
		return nil, err
	}
	return &Message{source: m.source, args: args, local: true}, nil
}

// deliverLocal calls a local port's handler directly, without encoding.
func (n *Node) deliverLocal(port string, args []any) {
	if port == "" {
		n.nodePortRequest(nil, n.id, args)
		return
	}
	p := n.ports.lookup([]byte(port))
	if p == nil {
		n.stats.unknownPort.Add(1)
		return
	}
	if args == nil {
		args = []any{}
	}
	n.callHandler(p, &Message{source: n.id, args: args, local: true})
}
