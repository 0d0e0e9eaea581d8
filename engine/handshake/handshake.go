package handshake

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unsafe"
)

// TLSRole is the side this node takes in the TLS handshake.
type TLSRole uint8

const (
	TLSNone   TLSRole = iota // no TLS on this connection
	TLSClient                // our nonce line is lower: we connect (Perl "connect")
	TLSServer                // our nonce line is higher: we accept (Perl "accept")
)

// String names the role.
func (r TLSRole) String() string {
	switch r {
	case TLSNone:
		return "none"
	case TLSClient:
		return "client"
	case TLSServer:
		return "server"
	}
	return "invalid"
}

// ConnInfo is what one connection adds to the Config.
type ConnInfo struct {
	// PeerAddr is the peer's socket address as we see it, sent as
	// peeraddr=PeerAddr: "HOST:PORT", IPv6 as "[ADDR]:PORT" (what
	// net.JoinHostPort and netip.AddrPort.String produce). Empty: not sent.
	PeerAddr string
	// Protocol is "" or "aemp" for a normal connection, or an "aemp-WORD"
	// listed in Options.Protocols when we open an upgraded connection.
	Protocol string
	// Extra KEY=VALUE pairs for this connection only (e.g. dataconn_id=...).
	Extra []KV
}

// Step tells the caller what to do after Feed.
type Step struct {
	// Out must be written to the peer before anything else (before data
	// phase bytes). It stays valid; the Handshake does not reuse it. With
	// an error, Out may still hold our auth line; there is no need to
	// write it then.
	Out []byte
	// Consumed is how many input bytes the handshake used. The caller drops
	// them; bytes after them were not looked at (they belong to TLS, to the
	// data phase, or, after an error, to nobody).
	Consumed int
	// StartTLS is non-zero when both greetings are through and TLS must be
	// started now with this role; Consumed ends right after the peer's
	// nonce line, the rest of the input is TLS. Call TLSUp once TLS is up.
	StartTLS TLSRole
	// Done: the peer's auth line was verified; see Result. Consumed ends
	// right after that line's LF.
	Done bool
}

// Result describes a completed handshake.
type Result struct {
	PeerNodeID   string   // field 3 of the peer's greeting
	PeerGreeting Greeting // the peer's greeting line 1, split
	PeerAuth     string   // the method of the peer's auth line
	SendFraming  string   // what we send (announced in our auth line)
	RecvFraming  string   // what the peer sends (from its auth line)
	Trusted      bool     // false when the peer authenticated with tls_anon
	Protocol     string   // "aemp" or the "aemp-WORD" in use
	TLS          TLSRole  // TLSNone unless TLS was used
	// Generation is the AnyEvent::MP generation the peer looks like, Gen1
	// or Gen2; see GenerationOf for the rule.
	Generation int
}

type state uint8

const (
	stNew      state = iota // Start not yet called
	stGreeting              // waiting for the peer's greeting line 1
	stNonce                 // waiting for the peer's nonce line
	stTLS                   // waiting for the caller to call TLSUp
	stAuth                  // waiting for the peer's auth line
	stDone
	stFailed
)

// Handshake is the handshake of one connection, as a value: no I/O, no
// goroutines, no clocks. Not safe for concurrent use.
type Handshake struct {
	cfg      *Config
	proto    string // "aemp" or aemp-WORD (possibly switched by the peer)
	ours     []byte // our greeting lines, each with its LF; never modified
	lg1, lg2 string // our greeting lines (without LF), views of ours
	rg1, rg2 string // the peer's
	rAuths   string // raw field 4 of the peer's greeting (for messages)
	rFraming string // raw field 5
	peer     Greeting
	tls      bool
	role     TLSRole
	sAuth    *authMethod
	sFraming string
	state    state
	err      *Error
	buf      []byte // the start of an incomplete line
	res      *Result
}

// New prepares the handshake of one connection: validates ci, builds our
// greeting line and draws the nonce from the Config's random source.
func New(c *Config, ci ConnInfo) (*Handshake, error) {
	h := new(Handshake)
	if err := h.Init(c, ci); err != nil {
		return nil, err
	}
	return h, nil
}

// Init prepares h, a zero Handshake, as New does: for a Handshake that is
// part of a larger struct, so that a connection's handshake state is one
// allocation.
func (h *Handshake) Init(c *Config, ci ConnInfo) error {
	proto := ci.Protocol
	if proto == "" {
		proto = "aemp"
	}
	if proto != "aemp" && !slices.Contains(c.protocols, proto) {
		return cfgErr("ConnInfo.Protocol %q is not in Options.Protocols", proto)
	}
	if err := checkValue("PeerAddr", ci.PeerAddr); err != nil {
		return err
	}
	if err := checkPairs(ci.Extra); err != nil {
		return err
	}
	var nonce [NonceBytes]byte
	if err := c.readNonce(nonce[:]); err != nil {
		return &Error{Phase: PhaseSetup, Msg: "handshake: reading nonce: " + err.Error(), Err: ErrConfig}
	}
	var pairs [8]KV // enough for the usual pairs without an allocation
	g := Greeting{
		Protocol: proto,
		Version:  ProtocolVersion,
		NodeID:   c.nodeID,
		Auths:    c.accept,
		Framings: c.framings,
		Pairs:    pairs[:0],
	}
	g.Pairs = append(g.Pairs, KV{Key: "provider", Value: c.provider})
	if ci.PeerAddr != "" {
		g.Pairs = append(g.Pairs, KV{Key: "peeraddr", Value: ci.PeerAddr})
	}
	if c.tls {
		g.Pairs = append(g.Pairs, KV{Key: "tls", Value: "1.0"})
	}
	for _, kv := range c.protoKeys {
		if !hasKey(ci.Extra, kv.Key) {
			g.Pairs = append(g.Pairs, kv)
		}
	}
	g.Pairs = append(g.Pairs, c.extra...)
	g.Pairs = append(g.Pairs, ci.Extra...)
	// Both lines in one buffer, which Start returns as it is.
	b := g.appendLine(make([]byte, 0, 256))
	n1 := len(b)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, nonce[:])
	return h.setLines(c, proto, append(b, '\n'), n1)
}

func (c *Config) readNonce(p []byte) error {
	if c.randMu != nil {
		c.randMu.Lock()
		defer c.randMu.Unlock()
	}
	_, err := io.ReadFull(c.rand, p)
	return err
}

// newWithLines builds a Handshake that sends exactly l1 and l2 (tests use it
// to replay recorded handshakes).
func newWithLines(c *Config, proto, l1, l2 string) (*Handshake, error) {
	b := make([]byte, 0, len(l1)+len(l2)+2)
	b = append(append(b, l1...), '\n')
	b = append(append(b, l2...), '\n')
	h := new(Handshake)
	if err := h.setLines(c, proto, b, len(l1)); err != nil {
		return nil, err
	}
	return h, nil
}

// setLines makes h, a zero Handshake, one that sends ours: two lines, each
// ending in LF, the first n1 bytes long (without its LF).
func (h *Handshake) setLines(c *Config, proto string, ours []byte, n1 int) error {
	if n1+1 > MaxLine || len(ours)-n1-1 > MaxLine {
		return cfgErr("our greeting is longer than %d bytes", MaxLine)
	}
	*h = Handshake{cfg: c, proto: proto, ours: ours,
		lg1: stringView(ours[:n1]), lg2: stringView(ours[n1+1 : len(ours)-1])}
	return nil
}

// bytesView returns s as bytes without copying, for reading only.
func bytesView(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// stringView returns b as a string without copying; b must never change
// afterwards.
func stringView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Start returns our two greeting lines, to be written at once by both sides
// (connector and acceptor alike); the caller must not modify them. It
// returns nil if called again.
func (h *Handshake) Start() []byte {
	if h.state != stNew {
		return nil
	}
	h.state = stGreeting
	return slices.Clip(h.ours)
}

// Feed processes bytes received from the peer (any split: one byte at a
// time or everything at once). An incomplete line is copied and counted as
// consumed. Feed stops consuming after the peer's nonce line when TLS must
// start, after the peer's auth line when done, and at the first error.
// After an error every further call returns the same error; after Done it
// returns Step{Done: true}; while waiting for TLSUp it consumes nothing.
func (h *Handshake) Feed(in []byte) (Step, error) {
	var st Step
	switch h.state {
	case stNew:
		return st, newErr(PhaseSetup, ErrState, "handshake: Feed before Start")
	case stFailed:
		return st, h.err
	case stDone:
		st.Done = true
		return st, nil
	case stTLS:
		st.StartTLS = h.role
		return st, nil
	}
	for st.Consumed < len(in) {
		line, n, ok := h.readLine(in[st.Consumed:])
		if h.state == stFailed {
			return st, h.err
		}
		st.Consumed += n
		if !ok {
			break
		}
		switch h.state {
		case stGreeting:
			h.greeting1(line)
		case stNonce:
			st.Out = h.nonce(line)
		case stAuth:
			h.authLine(line)
		}
		switch h.state {
		case stFailed:
			return st, h.err
		case stTLS:
			st.StartTLS = h.role
			return st, nil
		case stDone:
			st.Done = true
			return st, nil
		}
	}
	return st, nil
}

// TLSUp is called once the TLS handshake that Feed asked for has succeeded.
// It returns our auth line, to be written inside TLS; then Feed continues
// with the decrypted bytes.
func (h *Handshake) TLSUp() ([]byte, error) {
	if h.state != stTLS {
		return nil, newErr(PhaseSetup, ErrState, "handshake: TLSUp without a pending TLS switch")
	}
	h.state = stAuth
	return h.ourAuthLine(), nil
}

// PeerKV returns the KEY=VALUE pairs of the peer's greeting as a map (last
// wins; no '=' gives ""), made on each call.
func (r *Result) PeerKV() map[string]string { return r.PeerGreeting.Map() }

// Result returns the outcome once Feed reported Done, else nil.
func (h *Handshake) Result() *Result { return h.res }

// PeerNodeID returns the node ID the peer's greeting named, once its first
// line has arrived (also when the handshake failed after it), else "".
// A node that dialled an address learns from it whose address it is even
// when it then refuses the connection ("already connected").
func (h *Handshake) PeerNodeID() string { return h.peer.NodeID }

// Err returns the error that ended the handshake, if any.
func (h *Handshake) Err() error {
	if h.err == nil {
		return nil
	}
	return h.err
}

// readLine takes the next line from in (possibly completing a line begun
// in earlier calls). n is the number of bytes used; ok is false when in
// ended before the LF. The line is returned without LF and without one CR
// directly before the LF.
func (h *Handshake) readLine(in []byte) (line string, n int, ok bool) {
	room := MaxLine - len(h.buf) // bytes, LF included, this line may still take
	look := in
	if len(look) > room {
		look = look[:room]
	}
	i := bytes.IndexByte(look, '\n')
	if i < 0 {
		if len(in) >= room {
			h.fail(h.phase(), ErrLineTooLong, fmt.Sprintf("%s line too long (over %d bytes)", h.lineName(), MaxLine))
			return "", 0, false
		}
		h.buf = append(h.buf, in...)
		return "", len(in), false
	}
	l := in[:i]
	if len(h.buf) > 0 {
		h.buf = append(h.buf, l...)
		l = h.buf
	}
	if len(l) > 0 && l[len(l)-1] == '\r' {
		l = l[:len(l)-1]
	}
	line = string(l)
	h.buf = h.buf[:0]
	return line, i + 1, true
}

func (h *Handshake) phase() Phase {
	switch h.state {
	case stGreeting:
		return PhaseGreeting
	case stNonce:
		return PhaseNonce
	}
	return PhaseAuth
}

func (h *Handshake) lineName() string {
	switch h.state {
	case stGreeting:
		return "greeting"
	case stNonce:
		return "nonce"
	}
	return "auth"
}

func (h *Handshake) fail(p Phase, sentinel error, msg string) {
	h.err = newErr(p, sentinel, msg)
	h.state = stFailed
	h.buf = nil
}

// greeting1 checks the peer's greeting line 1, in AnyEvent::MP's order.
func (h *Handshake) greeting1(line string) {
	f := perlSplit(line, ';')
	h.rg1 = line
	h.rAuths = field(f, 3)
	h.rFraming = field(f, 4)
	g := greetingFromFields(f)
	h.peer = g

	// The peer may switch a plain connection to a sub-protocol.
	if h.proto == "aemp" && isUpgradeWord(g.Protocol) {
		if !slices.Contains(h.cfg.protocols, g.Protocol) {
			h.fail(PhaseGreeting, ErrUnknownProtocol, fmt.Sprintf("unsupported protocol '%s'", g.Protocol))
			return
		}
		h.proto = g.Protocol
	}
	switch {
	case g.Protocol != h.proto && g.Protocol != "aemp":
		h.fail(PhaseGreeting, ErrProtocol, fmt.Sprintf("unparsable greeting, expected '%s', got '%s'", h.proto, g.Protocol))
		return
	case perlNum(g.Version) != 1:
		h.fail(PhaseGreeting, ErrVersion, fmt.Sprintf("version mismatch (we: %s, they: %s)", ProtocolVersion, g.Version))
		return
	}
	if h.proto == "aemp" {
		switch {
		case g.NodeID == "":
			// Stricter than Perl, which would carry on with an empty ID
			// (its alias for itself).
			h.fail(PhaseGreeting, ErrProtocol, "unparsable greeting, empty node ID")
			return
		case g.NodeID == h.cfg.nodeID:
			h.fail(PhaseGreeting, ErrSelf, "I refuse to talk to myself")
			return
		case h.cfg.alreadyConnected != nil && h.cfg.alreadyConnected(g.NodeID):
			h.fail(PhaseGreeting, ErrAlreadyConnected, g.NodeID+" already connected, not connecting again.")
			return
		}
	}
	h.state = stNonce
}

// nonce handles the peer's nonce line: echo check, auth and framing
// selection, TLS decision. It returns our auth line unless TLS must start
// first (or on error).
func (h *Handshake) nonce(line string) []byte {
	h.rg2 = line
	// Perl refuses only when greeting 1 and 2 are both identical; we refuse
	// identical nonces whatever greeting 1 says (the protocol text's MUST).
	if line == h.lg2 {
		h.fail(PhaseNonce, ErrEcho, "authentication error, echo attack?")
		return nil
	}
	if h.cfg.tls {
		v, _ := h.peer.Value("tls")
		h.tls = math.Trunc(perlNum(v)) == 1
	}

	// First entry of the peer's list that we offer; tls_* only with TLS.
	for _, a := range h.peer.Auths {
		for _, m := range h.cfg.offer {
			if m.name == a && (!m.tls || h.tls) {
				h.sAuth = m
				break
			}
		}
		if h.sAuth != nil {
			break
		}
	}
	if h.sAuth == nil {
		h.fail(PhaseNonce, ErrNoCommonAuth, h.rAuths+": no common auth type supported")
		return nil
	}
	for _, f := range h.peer.Framings {
		if slices.Contains(h.cfg.framings, f) {
			h.sFraming = f
			break
		}
	}
	if h.sFraming == "" {
		h.fail(PhaseNonce, ErrNoCommonFraming, h.rFraming+": no common framing method supported")
		return nil
	}

	switch {
	case h.tls:
		// Inside TLS AnyEvent::MP only sends tls_* methods.
		if !h.sAuth.tls {
			h.fail(PhaseNonce, ErrUnsupportedAuth, h.sAuth.name+": fatal, selected unsupported snd auth method")
			return nil
		}
		if h.lg2 < h.rg2 {
			h.role = TLSClient
		} else {
			h.role = TLSServer
		}
		h.state = stTLS
		return nil
	case h.cfg.keys.has:
		if !h.sAuth.secret {
			h.fail(PhaseNonce, ErrUnsupportedAuth, h.sAuth.name+": fatal, selected unsupported snd auth method")
			return nil
		}
	default:
		h.fail(PhaseNonce, ErrNoSecret, "unable to handshake TLS and no shared secret configured")
		return nil
	}
	h.state = stAuth
	return h.ourAuthLine()
}

// ourAuthLine returns "METHOD;TOKEN;FRAMING\n".
func (h *Handshake) ourAuthLine() []byte {
	m := h.sAuth
	scratch := scratchPool.Get().(*[]byte)
	token, grown := scratchToken(*scratch, m, &h.cfg.keys, h.lg1, h.lg2, h.rg1, h.rg2)
	out := make([]byte, 0, len(m.name)+len(token)+len(h.sFraming)+3)
	out = append(out, m.name...)
	out = append(out, ';')
	out = append(out, token...)
	out = append(out, ';')
	out = append(out, h.sFraming...)
	*scratch = grown
	scratchPool.Put(scratch)
	return append(out, '\n')
}

// authLine verifies the peer's auth line "METHOD;TOKEN;FRAMING[;...]".
func (h *Handshake) authLine(line string) {
	method, rest, _ := strings.Cut(line, ";")
	token, rest, _ := strings.Cut(rest, ";")
	framing, _, _ := strings.Cut(rest, ";")

	var m *authMethod
	for _, a := range h.cfg.acceptM {
		if a.name == method {
			m = a
			break
		}
	}
	if m == nil {
		h.fail(PhaseAuth, ErrUnsupportedAuth, method+": fatal, selected unsupported rcv auth method")
		return
	}
	// tls_* never match without TLS (as in Perl). Methods needing the
	// secret never match without one: stricter than Perl, which compares a
	// cleartext token against "" then.
	ok := (!m.tls || h.tls) && (!m.secret || h.cfg.keys.has)
	if ok {
		scratch := scratchPool.Get().(*[]byte)
		want, grown := scratchToken(*scratch, m, &h.cfg.keys, h.rg1, h.rg2, h.lg1, h.lg2)
		ok = len(token) == len(want) && subtle.ConstantTimeCompare(bytesView(token), want) == 1
		*scratch = grown
		scratchPool.Put(scratch)
	}
	if !ok {
		h.fail(PhaseAuth, ErrAuthFailed, "authentication failure/shared secret mismatch")
		return
	}
	if !slices.Contains(h.cfg.framings, framing) {
		h.fail(PhaseAuth, ErrFraming, framing+": unusable remote framing")
		return
	}
	role := TLSNone
	if h.tls {
		role = h.role
	}
	h.res = &Result{
		PeerNodeID:   h.peer.NodeID,
		PeerGreeting: h.peer,
		PeerAuth:     m.name,
		SendFraming:  h.sFraming,
		RecvFraming:  framing,
		Trusted:      !m.untrusted,
		Protocol:     h.proto,
		TLS:          role,
		Generation:   GenerationOf(&h.peer, m.name),
	}
	h.state = stDone
	h.buf = nil
}
