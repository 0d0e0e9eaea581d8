package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// perlConfig is the subset of AnyEvent::MP's configuration file that an
// aemp-go node uses (node-protocol.md section 9). Unknown keys are ignored.
type perlConfig struct {
	NodeID         *string                    `json:"nodeid"`
	Secret         *string                    `json:"secret"`
	Cert           *string                    `json:"cert"`
	Binds          []string                   `json:"binds"`
	Seeds          []string                   `json:"seeds"`
	MonitorTimeout *float64                   `json:"monitor_timeout"`
	Framing        []string                   `json:"framing_format"`
	AuthOffer      []string                   `json:"auth_offer"`
	AuthAccept     []string                   `json:"auth_accept"`
	NoDelay        *json.RawMessage           `json:"nodelay"`
	Parent         *string                    `json:"parent"`
	Profile        map[string]json.RawMessage `json:"profile"`
}

// loadPerlConfig reads the file and returns the effective configuration
// for profile: the top-level keys, then the profile's parent chain
// (farthest ancestor first), then the profile's own keys. The file is
// JSON as AnyEvent::MP reads it: trailing commas and # comments allowed.
func loadPerlConfig(path, profile string) (*perlConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	clean := relaxedJSON(raw)
	var top perlConfig
	if err := json.Unmarshal(clean, &top); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	chain := []string{}
	seen := map[string]bool{}
	for name := profile; name != "" && !seen[name]; {
		seen[name] = true
		rawP, ok := top.Profile[name]
		if !ok {
			break
		}
		chain = append([]string{name}, chain...)
		var p perlConfig
		if err := json.Unmarshal(rawP, &p); err != nil {
			return nil, fmt.Errorf("%s: profile %s: %w", path, name, err)
		}
		name = ""
		if p.Parent != nil {
			name = *p.Parent
		}
	}
	eff := top
	for _, name := range chain {
		var p perlConfig
		json.Unmarshal(top.Profile[name], &p)
		eff.merge(&p)
	}
	if eff.NodeID == nil && len(chain) > 0 {
		eff.NodeID = &profile
	}
	return &eff, nil
}

// merge overrides c with the keys p sets.
func (c *perlConfig) merge(p *perlConfig) {
	if p.NodeID != nil {
		c.NodeID = p.NodeID
	}
	if p.Secret != nil {
		c.Secret = p.Secret
	}
	if p.Cert != nil {
		c.Cert = p.Cert
	}
	if p.Binds != nil {
		c.Binds = p.Binds
	}
	if p.Seeds != nil {
		c.Seeds = p.Seeds
	}
	if p.MonitorTimeout != nil {
		c.MonitorTimeout = p.MonitorTimeout
	}
	if p.Framing != nil {
		c.Framing = p.Framing
	}
	if p.AuthOffer != nil {
		c.AuthOffer = p.AuthOffer
	}
	if p.AuthAccept != nil {
		c.AuthAccept = p.AuthAccept
	}
	if p.NoDelay != nil {
		c.NoDelay = p.NoDelay
	}
}

// relaxedJSON removes # comments and trailing commas outside strings.
func relaxedJSON(in []byte) []byte {
	var out bytes.Buffer
	inStr, esc := false, false
	for i := 0; i < len(in); i++ {
		b := in[i]
		if inStr {
			out.WriteByte(b)
			switch {
			case esc:
				esc = false
			case b == '\\':
				esc = true
			case b == '"':
				inStr = false
			}
			continue
		}
		switch b {
		case '"':
			inStr = true
		case '#':
			for i < len(in) && in[i] != '\n' {
				i++
			}
			out.WriteByte('\n')
			continue
		case ']', '}':
			// Drop a comma before the closing bracket (whitespace between).
			t := bytes.TrimRight(out.Bytes(), " \t\r\n")
			if len(t) > 0 && t[len(t)-1] == ',' {
				out.Truncate(len(t) - 1)
			}
		}
		out.WriteByte(b)
	}
	return out.Bytes()
}
