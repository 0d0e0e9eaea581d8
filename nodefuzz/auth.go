package nodefuzz

import (
	"crypto/hmac"
	"crypto/sha3"
	"encoding/hex"
	"hash"
	"strings"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/aemp-go/aemp/md6"
)

// token computes the auth token the side that sent lines a1, a2 and
// received b1, b2 sends with method (docs/protocol.md, authentication; the
// same rules as package handshake, which keeps them unexported). The
// fuzzer needs its own because it authenticates over greeting lines it
// has mangled. ok is false for a method it cannot compute.
func token(method string, secret []byte, a1, a2, b1, b2 string) (tok string, ok bool) {
	t := []byte(a1 + "\n" + a2 + "\n" + b1 + "\n" + b2 + "\n")
	switch method {
	case handshake.AuthHMACSHA3:
		mac := hmac.New(func() hash.Hash { return sha3.New512() }, secret)
		mac.Write(t)
		return hex.EncodeToString(mac.Sum(nil)), true
	case handshake.AuthHMACMD6:
		sec := md6.Sum256(secret)
		mac := md6.HMAC256(t, sec[:])
		return hex.EncodeToString(mac[:]), true
	case handshake.AuthTLSSHA3:
		sum := sha3.Sum512(t)
		return hex.EncodeToString(sum[:]), true
	case handshake.AuthTLSMD6:
		sum := md6.Sum256(t)
		return hex.EncodeToString(sum[:]), true
	case handshake.AuthClear:
		return hex.EncodeToString(secret), true
	case handshake.AuthTLSAnon:
		return "", true
	}
	return "", false
}

// greeting is a peer's greeting as the fuzzer reads it: both lines
// without their line ends, and line 1 split.
type greeting struct {
	line1, nonce string
	g            handshake.Greeting
}

func parseGreeting(l1, l2 string) greeting {
	return greeting{line1: l1, nonce: l2, g: handshake.ParseGreeting(l1)}
}

// authMethod picks the method we authenticate with: the first of the
// target's list that we may send (allowed, or both generations' hmac
// methods when allowed is empty).
func (g greeting) authMethod(allowed []string) string {
	if len(allowed) == 0 {
		allowed = []string{handshake.AuthHMACSHA3, handshake.AuthHMACMD6}
	}
	for _, m := range g.g.Auths {
		for _, a := range allowed {
			if m == a && !strings.HasPrefix(m, "tls_") && m != handshake.AuthClear {
				return m
			}
		}
	}
	return ""
}

// otherMethod is the hmac method of the other generation.
func otherMethod(m string) string {
	if m == handshake.AuthHMACMD6 {
		return handshake.AuthHMACSHA3
	}
	return handshake.AuthHMACMD6
}

// trimLine removes a line end (LF, or CR LF) as AnyEvent::MP does.
func trimLine(l string) string {
	l = strings.TrimSuffix(l, "\n")
	return strings.TrimSuffix(l, "\r")
}
