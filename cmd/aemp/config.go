package main

import (
	"encoding/json"

	"github.com/aemp-go/aemp/config"
)

// perlConfig is the part of AnyEvent::MP's configuration file that an
// aemp-go node uses (docs/protocol.md, section "Configuration"), typed.
// A nil field is a key the file does not set.
type perlConfig struct {
	NodeID          *string
	Secret          *string
	Cert            *string
	Binds           []string
	Seeds           []string
	MonitorTimeout  *float64 // seconds
	ConnectInterval *float64 // seconds
	Framing         []string
	AuthOffer       []string
	AuthAccept      []string
	NoDelay         *json.RawMessage // true or false
	AutoCork        *bool
	Services        []any
}

// perlConfigPath is the file aemp-go reads when no --config is given:
// $PERL_ANYEVENT_MP_RC, else ~/.perl-anyevent-mp (set
// PERL_ANYEVENT_MP_RC=/dev/null for none).
func perlConfigPath() string { return config.Path() }

// loadPerlConfig reads the file and returns the effective configuration
// for profile: the top-level keys, then the profile's parent chain
// (farthest ancestor first), then the profile's own keys; the node ID
// defaults to the profile's name, as in Perl. The file is JSON as
// AnyEvent::MP reads it (trailing commas and # comments allowed); a
// missing or empty file is an empty configuration.
func loadPerlConfig(path, profile string) (*perlConfig, error) {
	return loadPerlConfigArgs(path, profile, nil)
}

// loadPerlConfigArgs is loadPerlConfig for configure(profile => profile,
// args...): args are put below the file's settings, as AnyEvent::MP 1.30
// does (so the short-lived CLI node, configure(profile => "aemp", nodeid
// => "anon/"), takes a node ID from the file if it sets one).
func loadPerlConfigArgs(path, profile string, args map[string]any) (*perlConfig, error) {
	f, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	eff, err := f.Resolve(profile)
	if err != nil {
		return nil, err
	}
	for k, v := range args {
		if _, ok := eff[k]; !ok {
			eff[k] = v
		}
	}
	s, err := config.SettingsOf(eff)
	if err != nil {
		return nil, err
	}
	pc := &perlConfig{
		NodeID:     s.NodeID,
		Secret:     s.Secret,
		Cert:       s.Cert,
		Binds:      s.Binds,
		Seeds:      s.Seeds,
		Framing:    s.FramingFormat,
		AuthOffer:  s.AuthOffer,
		AuthAccept: s.AuthAccept,
		AutoCork:   s.AutoCork,
		Services:   s.Services,
	}
	if pc.NodeID == nil {
		pc.NodeID = &profile
	}
	if s.MonitorTimeout != nil {
		v := s.MonitorTimeout.Seconds()
		pc.MonitorTimeout = &v
	}
	if s.ConnectInterval != nil {
		v := s.ConnectInterval.Seconds()
		pc.ConnectInterval = &v
	}
	if s.NoDelay != nil {
		raw := json.RawMessage("false")
		if *s.NoDelay {
			raw = json.RawMessage("true")
		}
		pc.NoDelay = &raw
	}
	return pc, nil
}
