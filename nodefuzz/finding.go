package nodefuzz

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Finding is one saved finding: a self-describing JSON file that --replay
// runs again. Its fields are described in README.md ("Fuzzing other
// nodes").
type Finding struct {
	Kind   string `json:"kind"`   // crash, hang, dead-link or memory
	Phase  Phase  `json:"phase"`  // greeting, auth or data
	What   string `json:"what"`   // what the case did
	Detail string `json:"detail"` // what the oracle saw
	Seed   uint64 `json:"seed"`
	Case   int    `json:"case"`
	// Target is the address fuzzed; TargetGreeting its two greeting lines
	// on the fuzzed connection (without line ends).
	Target         string    `json:"target"`
	TargetGreeting [2]string `json:"target_greeting"`
	Framing        string    `json:"framing,omitempty"`
	OurID          string    `json:"our_id"`
	// LinkCheck: after the bytes, the link had to answer time (the last
	// data chunk, marked probe) or be closed.
	LinkCheck bool    `json:"link_check"`
	Marker    string  `json:"marker"`
	Sent      []Chunk `json:"sent"`
	RSSBefore int64   `json:"rss_before,omitempty"`
	RSSAfter  int64   `json:"rss_after,omitempty"`
	Time      string  `json:"time"`
}

// Chunk is one write of a case, as sent.
type Chunk struct {
	Phase Phase `json:"phase"`
	// Hex is the bytes as sent this time; Text the same for reading
	// (invalid UTF-8 shown as \xNN, long texts shortened).
	Hex  string `json:"hex"`
	Text string `json:"text"`
	// Pieces and PauseMS: the write was cut into pieces of these sizes
	// with pauses between them.
	Pieces  []int `json:"pieces,omitempty"`
	PauseMS int   `json:"pause_ms,omitempty"`
	// Auth, when set: this is our auth line, recomputed on replay from
	// the template and the target's new greeting (its nonce differs).
	Auth *AuthTemplate `json:"auth,omitempty"`
	// TailHex: data-phase bytes sent in the same write after the auth
	// line.
	TailHex string `json:"tail_hex,omitempty"`
	// Echo: these are the target's own greeting lines, sent back.
	Echo bool `json:"echo,omitempty"`
	// Probe: the link check's time request.
	Probe bool `json:"probe,omitempty"`
}

// AuthTemplate is an auth line to compute (see authLine).
type AuthTemplate struct {
	Template    string    `json:"template"`
	Method      string    `json:"method,omitempty"`
	Ours        [2]string `json:"ours"`
	Swap        bool      `json:"swap,omitempty"`
	WrongSecret bool      `json:"wrong_secret,omitempty"`
	Op          string    `json:"op,omitempty"`
}

func (a *AuthTemplate) line() *authLine {
	return &authLine{template: a.Template, method: a.Method, ours: a.Ours, swap: a.Swap, wrongSecret: a.WrongSecret, op: a.Op}
}

func templateOf(a *authLine) *AuthTemplate {
	return &AuthTemplate{Template: a.template, Method: a.method, Ours: a.ours, Swap: a.swap, WrongSecret: a.wrongSecret, Op: a.op}
}

// readable renders bytes for the Text field.
func readable(b []byte) string {
	const max = 600
	var sb strings.Builder
	for i := 0; i < len(b); {
		if sb.Len() > max {
			fmt.Fprintf(&sb, "... (%d bytes)", len(b))
			break
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&sb, `\x%02x`, b[i])
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, r)
		default:
			sb.WriteRune(r)
		}
		i += n
	}
	return sb.String()
}

func chunkOf(phase Phase, b []byte, s *step) Chunk {
	c := Chunk{Phase: phase, Hex: hex.EncodeToString(b), Text: readable(b), Echo: s.echo, Probe: s.probe}
	if len(s.chunks) > 0 {
		c.Pieces = s.chunks
		c.PauseMS = int(s.pause / time.Millisecond)
	}
	if s.auth != nil {
		c.Auth = templateOf(s.auth)
		if len(s.tail) > 0 {
			c.TailHex = hex.EncodeToString(s.tail)
		}
	}
	return c
}

// stepOf turns a saved chunk back into a step.
func stepOf(c Chunk) (step, error) {
	b, err := hex.DecodeString(c.Hex)
	if err != nil {
		return step{}, fmt.Errorf("chunk hex: %w", err)
	}
	s := step{phase: c.Phase, bytes: b, echo: c.Echo, probe: c.Probe, chunks: c.Pieces, pause: time.Duration(c.PauseMS) * time.Millisecond}
	if c.Auth != nil {
		s.auth = c.Auth.line()
		if s.tail, err = hex.DecodeString(c.TailHex); err != nil {
			return step{}, fmt.Errorf("chunk tail hex: %w", err)
		}
	}
	return s, nil
}

// save writes f into dir as KIND-PHASE-seedS-caseN.json and returns the
// path.
func (f *Finding) save(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%s-seed%d-case%d.json", f.Kind, f.Phase, f.Seed, f.Case))
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	return p, os.WriteFile(p, append(b, '\n'), 0o644)
}

// LoadFinding reads a finding file.
func LoadFinding(path string) (*Finding, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f Finding
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch f.Kind {
	case KindCrash, KindHang, KindDeadLink, KindMemory:
	default:
		return nil, fmt.Errorf("%s: unknown kind %q", path, f.Kind)
	}
	if len(f.Sent) == 0 {
		return nil, fmt.Errorf("%s: no bytes sent", path)
	}
	return &f, nil
}
