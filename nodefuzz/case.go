package nodefuzz

import (
	"strings"
	"time"
)

// Phase is the part of a connection a case is about.
type Phase string

// The phases, in the order a connection goes through them.
const (
	PhaseGreeting Phase = "greeting" // the two greeting lines
	PhaseAuth     Phase = "auth"     // the auth line
	PhaseData     Phase = "data"     // the switch to the data phase and the frames
)

// Phases lists the phases in order.
var Phases = []Phase{PhaseGreeting, PhaseAuth, PhaseData}

// step is one piece of what a case sends on its connection.
type step struct {
	phase Phase
	bytes []byte
	// auth, when set, replaces bytes: our auth line, computed once the
	// target's greeting lines are in (its nonce changes every time).
	auth *authLine
	// tail goes out in the same write right after the auth line (frames
	// pipelined behind it); its phase is the data phase.
	tail []byte
	// echo, when set, replaces bytes with the target's own two greeting
	// lines (the echo attack).
	echo bool
	// chunks cuts the write into pieces of these sizes (the rest in one
	// piece), with pause between them.
	chunks []int
	pause  time.Duration
	// probe marks the link check's time request: sent only when the link
	// check runs.
	probe bool
}

// authLine is our auth line as a template: the token is computed from
// our greeting lines (as the target reads them) and the target's.
type authLine struct {
	// template is the line with "{token}" where the token goes.
	template string
	// method names how the token is computed (one of the auth methods);
	// empty: no token ({token} becomes "").
	method string
	// ours are our two greeting lines as the target sees them.
	ours [2]string
	// swap computes the token with the target's lines first (a token
	// for the wrong direction), wrongSecret with another secret.
	swap, wrongSecret bool
	// op mangles the computed token (see mangleToken).
	op string
}

// line returns the auth line for the target's greeting lines t1, t2.
func (a *authLine) line(secret []byte, t1, t2 string) []byte {
	tok := ""
	if a.method != "" {
		if a.wrongSecret {
			secret = append([]byte("x"), secret...)
		}
		var ok bool
		if a.swap {
			tok, ok = token(a.method, secret, t1, t2, a.ours[0], a.ours[1])
		} else {
			tok, ok = token(a.method, secret, a.ours[0], a.ours[1], t1, t2)
		}
		if !ok {
			tok = ""
		}
		tok = mangleToken(tok, a.op)
	}
	return []byte(strings.Replace(a.template, "{token}", tok, 1))
}

// mangleToken applies a token mutation.
func mangleToken(tok, op string) string {
	switch op {
	case "flip":
		if tok == "" {
			return "0"
		}
		c := byte('0')
		if tok[0] == '0' {
			c = '1'
		}
		return string(c) + tok[1:]
	case "upper":
		return strings.ToUpper(tok)
	case "cut":
		return tok[:len(tok)/2]
	case "extend":
		return tok + "00"
	case "empty":
		return ""
	case "nonhex":
		return strings.Repeat("z", len(tok))
	case "long":
		return tok + strings.Repeat("0", 4200)
	case "nul":
		return tok[:len(tok)/2] + "\x00" + tok[len(tok)/2:]
	case "space":
		return " " + tok
	}
	return tok
}

// Case is one fuzz case: what it sends on a fresh connection to the
// target, in order, and whether the link check runs after it.
type Case struct {
	N       int    // case number
	Phase   Phase  // what it is about
	What    string // one line describing what it does
	Framing string // data phase: the framing of the frames
	// Link: after the steps, the connection must answer time or be
	// closed by the target (data-phase cases whose frames are complete).
	Link bool
	// ourID is the fuzzer's node ID on the connection; marker is the
	// unique text of the link check's time request.
	ourID, marker string
	steps         []step
}
