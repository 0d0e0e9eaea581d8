package handshake

import "errors"

// Sentinel errors. Every handshake failure is an *Error whose Unwrap returns
// one of these, so callers branch with errors.Is and log Error() (the text
// AnyEvent::MP would log, where the original has one).
var (
	// ErrProtocol: greeting 1 does not start with "aemp" (or the upgrade
	// protocol we asked for), or names no node ID.
	ErrProtocol = errors.New("handshake: unparsable greeting")
	// ErrUnknownProtocol: the peer asked for an "aemp-WORD" protocol upgrade
	// that the Config does not list.
	ErrUnknownProtocol = errors.New("handshake: unsupported protocol upgrade")
	// ErrVersion: the peer's protocol version is not (numerically) 1.
	ErrVersion = errors.New("handshake: version mismatch")
	// ErrSelf: the peer claims our own node ID.
	ErrSelf = errors.New("handshake: peer has our node ID")
	// ErrAlreadyConnected: Config's AlreadyConnected hook said so.
	ErrAlreadyConnected = errors.New("handshake: node already connected")
	// ErrEcho: the peer's nonce line equals ours (echo attack).
	ErrEcho = errors.New("handshake: echo attack")
	// ErrNoCommonAuth: nothing in the peer's auth list is in our AuthOffer
	// (tls_* count only with TLS). This is what a node limited to one
	// generation's methods gets from a node of the other generation.
	ErrNoCommonAuth = errors.New("handshake: no common auth type")
	// ErrNoCommonFraming: nothing in the peer's framing list is ours.
	ErrNoCommonFraming = errors.New("handshake: no common framing")
	// ErrNoSecret: no TLS and no shared secret, so we cannot authenticate.
	ErrNoSecret = errors.New("handshake: no TLS and no shared secret")
	// ErrUnsupportedAuth: the method we selected cannot be sent in this
	// situation ("snd"), or the peer's auth line names a method we do not
	// accept ("rcv").
	ErrUnsupportedAuth = errors.New("handshake: unsupported auth method")
	// ErrAuthFailed: the peer's token is wrong.
	ErrAuthFailed = errors.New("handshake: authentication failed")
	// ErrFraming: the framing named in the peer's auth line is not one of ours.
	ErrFraming = errors.New("handshake: unusable remote framing")
	// ErrLineTooLong: a handshake line exceeds MaxLine bytes.
	ErrLineTooLong = errors.New("handshake: line too long")
	// ErrState: the Handshake was used out of order (Feed before Start,
	// TLSUp when no TLS was requested, ...). A bug in the caller.
	ErrState = errors.New("handshake: method called in wrong state")
	// ErrConfig: invalid Options or ConnInfo.
	ErrConfig = errors.New("handshake: invalid configuration")
)

// Phase says which handshake step failed.
type Phase uint8

const (
	PhaseSetup    Phase = iota // configuration, constructor, API misuse
	PhaseGreeting              // reading/checking the peer's greeting line 1
	PhaseNonce                 // reading the peer's nonce line; selecting auth and framing
	PhaseAuth                  // reading/verifying the peer's auth line
)

// String names the phase.
func (p Phase) String() string {
	switch p {
	case PhaseSetup:
		return "setup"
	case PhaseGreeting:
		return "greeting"
	case PhaseNonce:
		return "nonce"
	case PhaseAuth:
		return "auth"
	}
	return "unknown"
}

// Error is a handshake failure. Msg is the human-readable text (for checks
// that AnyEvent::MP makes, its exact message); Err is one of the sentinels.
type Error struct {
	Phase Phase
	Msg   string
	Err   error
}

// Error returns Msg, the original's text.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

func newErr(p Phase, sentinel error, msg string) *Error {
	return &Error{Phase: p, Msg: msg, Err: sentinel}
}
