package config

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"
)

// ErrProfileLoop is wrapped when a profile's parent chain comes back to a
// profile already on it. (Perl recurses until it runs out of memory.)
var ErrProfileLoop = errors.New("profile loop")

// Profiles returns the "profile" section, creating an empty one when it
// is missing, as Perl does whenever it looks a profile up (the new section
// is written only if the document is saved).
func (f *File) Profiles() (map[string]any, error) {
	switch p := f.Root["profile"].(type) {
	case map[string]any:
		return p, nil
	case nil:
		ps := map[string]any{}
		f.Root["profile"] = ps
		return ps, nil
	}
	return nil, fmt.Errorf("the \"profile\" section is %w", ErrNotObject)
}

// Profile returns the named profile's own settings, or nil when there is
// no such profile. With create, a missing profile is added (empty).
func (f *File) Profile(name string, create bool) (map[string]any, error) {
	ps, err := f.Profiles()
	if err != nil {
		return nil, err
	}
	switch p := ps[name].(type) {
	case map[string]any:
		return p, nil
	case nil:
		if !create {
			return nil, nil
		}
		np := map[string]any{}
		ps[name] = np
		return np, nil
	}
	return nil, fmt.Errorf("profile %q is %w", name, ErrNotObject)
}

// Resolve returns the settings a node started with profile name gets from
// the file: the top-level keys, overridden by the profile's parent chain
// (farthest ancestor first), overridden by the profile's own keys. A
// profile that does not exist contributes nothing. The result is a new
// map; its values are shared with the document.
func (f *File) Resolve(name string) (map[string]any, error) {
	var chain []map[string]any
	seen := map[string]bool{}
	path := []string{}
	for cur, ok := name, true; ok; {
		if seen[cur] {
			return nil, fmt.Errorf("%w: %s", ErrProfileLoop, strings.Join(append(path, cur), " -> "))
		}
		seen[cur] = true
		path = append(path, cur)
		p, err := f.Profile(cur, false)
		if err != nil {
			return nil, err
		}
		if p == nil {
			break
		}
		chain = append(chain, p)
		switch parent := p["parent"].(type) {
		case nil:
			ok = false
		case string:
			cur = parent
		default:
			s, scalar := PerlString(parent)
			if !scalar {
				return nil, fmt.Errorf("profile %q: parent is not a profile name", cur)
			}
			cur = s
		}
	}
	eff := maps.Clone(f.Root)
	for i := len(chain) - 1; i >= 0; i-- {
		maps.Copy(eff, chain[i])
	}
	return eff, nil
}

// Defaults returns AnyEvent::MP 1.30's built-in settings, which
// Effective puts below everything else.
func Defaults() map[string]any {
	return map[string]any{
		"monitor_timeout":  Number("30"),
		"connect_interval": Number("2"),
		"framing_format":   []any{"json", "storable"},
		"auth_offer":       []any{"tls_md6_64_256", "hmac_md6_64_256"},
		"auth_accept":      []any{"tls_md6_64_256", "hmac_md6_64_256", "tls_anon", "cleartext"},
	}
}

// Effective returns the configuration AnyEvent::MP 1.30 computes for
// configure(profile => name, args...): Defaults, then args, then
// Resolve(name). As in 1.30, the file overrides args.
func (f *File) Effective(name string, args map[string]any) (map[string]any, error) {
	r, err := f.Resolve(name)
	if err != nil {
		return nil, err
	}
	eff := Defaults()
	maps.Copy(eff, args)
	maps.Copy(eff, r)
	return eff, nil
}

// Settings are the keys of a resolved configuration that aemp-go uses,
// typed. A nil field is a key that is absent (or null).
type Settings struct {
	NodeID          *string
	Secret          *string
	Cert            *string // PEM: key, certificate, CA certificates
	Binds           []string
	Seeds           []string
	Services        []any // kept for Perl nodes; aemp-go runs none
	MonitorTimeout  *time.Duration
	ConnectInterval *time.Duration
	FramingFormat   []string
	AuthOffer       []string
	AuthAccept      []string
	AutoCork        *bool
	NoDelay         *bool
}

// SettingsOf types the keys of m (a Resolve or Effective result). Strings
// and numbers are interchangeable where Perl does not care (aemp
// setmonitor_timeout 10 stores the string "10"); booleans follow Perl's
// truth. A value of the wrong kind is an error naming the key.
func SettingsOf(m map[string]any) (*Settings, error) {
	s := &Settings{}
	var err error
	str := func(key string) *string {
		v, ok := m[key]
		if !ok || v == nil || err != nil {
			return nil
		}
		t, scalar := PerlString(v)
		if !scalar {
			err = fmt.Errorf("%s: expected a string, not a list or object", key)
			return nil
		}
		return &t
	}
	list := func(key string) []string {
		v, ok := m[key]
		if !ok || v == nil || err != nil {
			return nil
		}
		a, ok := v.([]any)
		if !ok {
			err = fmt.Errorf("%s: expected a list (a JSON array)", key)
			return nil
		}
		out := make([]string, 0, len(a))
		for _, e := range a {
			t, scalar := PerlString(e)
			if !scalar {
				err = fmt.Errorf("%s: expected a list of strings", key)
				return nil
			}
			out = append(out, t)
		}
		return out
	}
	secs := func(key string) *time.Duration {
		t := str(key)
		if t == nil {
			return nil
		}
		f, perr := strconv.ParseFloat(strings.TrimSpace(*t), 64)
		if perr != nil || f < 0 || f > 1e9 {
			err = fmt.Errorf("%s: %q is not a number of seconds", key, *t)
			return nil
		}
		d := time.Duration(f * float64(time.Second))
		return &d
	}
	flag := func(key string) *bool {
		v, ok := m[key]
		if !ok || v == nil {
			return nil
		}
		b := PerlTrue(v)
		return &b
	}
	s.NodeID = str("nodeid")
	s.Secret = str("secret")
	s.Cert = str("cert")
	s.Binds = list("binds")
	s.Seeds = list("seeds")
	s.MonitorTimeout = secs("monitor_timeout")
	s.ConnectInterval = secs("connect_interval")
	s.FramingFormat = list("framing_format")
	s.AuthOffer = list("auth_offer")
	s.AuthAccept = list("auth_accept")
	s.AutoCork = flag("autocork")
	s.NoDelay = flag("nodelay")
	if v, ok := m["services"]; ok && v != nil && err == nil {
		a, ok := v.([]any)
		if !ok {
			err = errors.New("services: expected a list (a JSON array)")
		}
		s.Services = a
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}
