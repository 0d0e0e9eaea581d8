package handshake

import (
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// The default lists of each AnyEvent::MP generation, for configuring a node
// that behaves like one of them (docs/protocol.md section 11). A 1.x list
// and a 2.x list have no method in common that either side sends, so such
// nodes fail with "no common auth type supported" (docs/protocol.md
// section 4).
var (
	AuthOffer1x  = []string{AuthTLSMD6, AuthHMACMD6}
	AuthAccept1x = []string{AuthTLSMD6, AuthHMACMD6, AuthTLSAnon, AuthClear}
	AuthOffer2x  = []string{AuthTLSSHA3, AuthHMACSHA3}
	AuthAccept2x = []string{AuthTLSSHA3, AuthHMACSHA3, AuthTLSAnon, AuthClear}
	// Framings1x is AnyEvent::MP 1.30's framing list; 2.x's is the same as
	// DefaultFramings.
	Framings1x = []string{"json", "storable"}
)

// Defaults. They let one node authenticate with both generations, chosen
// per peer: we use the first method of the PEER's list that is in our
// AuthOffer (the order of AuthOffer itself does not matter), so a 1.x peer
// (which lists only MD6 methods) gets MD6 and a 2.x peer SHA3. Our
// AuthAccept lists SHA3 first, so a 2.x peer (and another aemp-go node)
// picks SHA3, and a 1.x peer, which skips what it does not know, MD6.
var (
	DefaultAuthOffer  = []string{AuthTLSSHA3, AuthHMACSHA3, AuthTLSMD6, AuthHMACMD6}
	DefaultAuthAccept = []string{AuthTLSSHA3, AuthHMACSHA3, AuthTLSMD6, AuthHMACMD6, AuthTLSAnon, AuthClear}
	// DefaultFramings is aemp-go's one default preference order,
	// framing.DefaultOrder (cbor, json, storable): the framings every
	// aemp-go node implements. Our order is our receive preference: a
	// peer sends the first entry of OUR list that it supports (a 2.x peer
	// cbor, a 1.x peer, which skips cbor, json). We send the first entry
	// of the PEER's list that is in ours (2.x lists cbor first).
	DefaultFramings = framing.DefaultOrder()
	// DefaultProtoKeys are the greeting pairs AnyEvent::MP 2.x sends and
	// nothing reads (docs/protocol.md section 2.2); 1.x ignores unknown
	// keys. Sent unless Options.NoProtoKeys; a key also given in
	// Options.Extra or ConnInfo.Extra is sent with that value instead.
	DefaultProtoKeys = []KV{{Key: "mproto", Value: "1"}, {Key: "gproto", Value: "1"}}
)

const (
	// DefaultProvider is sent as provider=... when Options.Provider is empty.
	DefaultProvider = "aemp-go"
	// DefaultTimeout is AnyEvent::MP's monitor_timeout. The handshake
	// package never looks at clocks; the caller enforces it (see
	// Config.Timeout).
	DefaultTimeout = 30 * time.Second
	// ProtocolVersion is the transport protocol version we send.
	ProtocolVersion = "1"
	// NonceBytes is the number of random bytes in the nonce line (base64
	// encoded to 88 characters, no padding).
	NonceBytes = 66
)

// Options configures a node's side of every handshake. Zero values take the
// defaults documented per field. The slices are copied by NewConfig.
type Options struct {
	// NodeID is our node ID: non-empty, without ';', '#', CR, LF.
	NodeID string
	// Secret is the shared secret (raw bytes as Perl uses them: the MD6
	// input for 1.x, the HMAC key for 2.x; keep it ASCII, Perl works on
	// its internal string). Empty: none; then only TLS-based auth works.
	Secret []byte
	// AuthOffer lists the methods we may use to authenticate ourselves
	// (matched against the peer's list, in the peer's order). Default
	// DefaultAuthOffer. cleartext cannot be offered.
	AuthOffer []string
	// AuthAccept is advertised in greeting field 4 (the peer takes the
	// first entry it may send), and a peer's auth line must use one of
	// these methods. Default DefaultAuthAccept.
	AuthAccept []string
	// Framings are our framing names in preference order: advertised, and
	// the only ones we send or accept. Default DefaultFramings.
	Framings []string
	// TLS: a certificate is configured; the greeting carries tls=1.0 and TLS
	// is used when the peer's greeting has tls with integer value 1.
	TLS bool
	// Provider is sent as provider=VALUE. Default DefaultProvider.
	Provider string
	// Extra KEY=VALUE pairs sent in every greeting, after provider,
	// peeraddr, tls and DefaultProtoKeys.
	Extra []KV
	// NoProtoKeys: do not send DefaultProtoKeys (mproto=1, gproto=1).
	NoProtoKeys bool
	// Rand is the source of nonces. Default crypto/rand.Reader. A Rand
	// given here is read under a mutex, so it need not be safe for
	// concurrent use.
	Rand io.Reader
	// AlreadyConnected, if set, is called with the peer's node ID when its
	// greeting line 1 arrives (plain "aemp" protocol only); true refuses the
	// connection. It runs on the caller's goroutine inside Feed and must be
	// safe for concurrent use when the Config is shared.
	AlreadyConnected func(nodeID string) bool
	// Protocols lists the accepted "aemp-WORD" protocol upgrades (such as
	// "aemp-dataconn"). Upgrades not listed are refused.
	Protocols []string
	// Timeout is the handshake deadline the caller should enforce (from the
	// connect/accept until Done). Default DefaultTimeout.
	Timeout time.Duration
}

// Config is a validated, immutable Options plus values derived from it (the
// secret's MD6 and HMAC-SHA3 key). One Config serves any number of
// concurrent handshakes.
type Config struct {
	nodeID           string
	keys             secretKeys
	offer            []*authMethod
	accept           []string
	acceptM          []*authMethod
	framings         []string
	tls              bool
	provider         string
	protoKeys        []KV // DefaultProtoKeys less those Extra overrides
	extra            []KV
	rand             io.Reader
	randMu           *sync.Mutex // guards a caller-supplied Rand
	alreadyConnected func(string) bool
	protocols        []string
	timeout          time.Duration
}

// NewConfig validates o and precomputes the secret's derived keys.
func NewConfig(o Options) (*Config, error) {
	c := &Config{
		nodeID:           o.NodeID,
		keys:             newSecretKeys(o.Secret),
		tls:              o.TLS,
		provider:         o.Provider,
		rand:             o.Rand,
		alreadyConnected: o.AlreadyConnected,
		protocols:        slices.Clone(o.Protocols),
		timeout:          o.Timeout,
	}
	if err := checkNodeID(o.NodeID); err != nil {
		return nil, err
	}
	offer := o.AuthOffer
	if offer == nil {
		offer = DefaultAuthOffer
	}
	accept := o.AuthAccept
	if accept == nil {
		accept = DefaultAuthAccept
	}
	framings := o.Framings
	if framings == nil {
		framings = DefaultFramings
	}
	if len(offer) == 0 {
		return nil, cfgErr("AuthOffer is empty")
	}
	for _, name := range offer {
		m := lookupAuth(name)
		if m == nil {
			return nil, cfgErr("AuthOffer: unknown auth method %q", name)
		}
		if !m.sendable {
			return nil, cfgErr("AuthOffer: %q is accepted, never sent", name)
		}
		c.offer = append(c.offer, m)
	}
	if len(accept) == 0 {
		return nil, cfgErr("AuthAccept is empty")
	}
	for _, name := range accept {
		m := lookupAuth(name)
		if m == nil {
			return nil, cfgErr("AuthAccept: unknown auth method %q", name)
		}
		c.accept = append(c.accept, name)
		c.acceptM = append(c.acceptM, m)
	}
	if len(framings) == 0 {
		return nil, cfgErr("Framings is empty")
	}
	for _, f := range framings {
		if err := checkListItem("framing", f); err != nil {
			return nil, err
		}
	}
	c.framings = slices.Clone(framings)
	if c.provider == "" {
		c.provider = DefaultProvider
	}
	if err := checkValue("Provider", c.provider); err != nil {
		return nil, err
	}
	if !o.NoProtoKeys {
		for _, kv := range DefaultProtoKeys {
			if !hasKey(o.Extra, kv.Key) {
				c.protoKeys = append(c.protoKeys, kv)
			}
		}
	}
	c.extra = slices.Clone(o.Extra)
	if err := checkPairs(c.protoKeys); err != nil {
		return nil, err
	}
	if err := checkPairs(c.extra); err != nil {
		return nil, err
	}
	for _, p := range c.protocols {
		if !isUpgradeWord(p) {
			return nil, cfgErr("Protocols: %q is not aemp-WORD", p)
		}
	}
	if c.rand == nil {
		c.rand = rand.Reader
	} else {
		c.randMu = new(sync.Mutex)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// NodeID returns our node ID.
func (c *Config) NodeID() string { return c.nodeID }

// WithNodeID returns a copy of c that greets as node id, sharing the
// secret's precomputed keys: for a client that authenticates as many
// nodes with one configuration (a load generator).
func (c *Config) WithNodeID(id string) (*Config, error) {
	if err := checkNodeID(id); err != nil {
		return nil, err
	}
	d := *c
	d.nodeID = id
	return &d, nil
}

// HasSecret reports whether a shared secret is configured.
func (c *Config) HasSecret() bool { return c.keys.has }

// TLS reports whether we offer TLS (tls=1.0 in our greeting).
func (c *Config) TLS() bool { return c.tls }

// Framings returns a copy of our framing list.
func (c *Config) Framings() []string { return slices.Clone(c.framings) }

// Timeout returns the handshake deadline the caller should enforce.
func (c *Config) Timeout() time.Duration { return c.timeout }

func cfgErr(format string, args ...any) error {
	return &Error{Phase: PhaseSetup, Msg: "handshake config: " + fmt.Sprintf(format, args...), Err: ErrConfig}
}

// checkNodeID enforces docs/protocol.md section 1.1 for our own ID:
// non-empty, no ';' CR LF (greeting field separator / line end) and no '#'
// (port ID separator). '%' is allowed but discouraged (a future unescaping
// peer would read %3b / %25 differently).
func checkNodeID(id string) error {
	if id == "" {
		return cfgErr("NodeID is empty")
	}
	if i := strings.IndexAny(id, ";#\r\n"); i >= 0 {
		return cfgErr("NodeID %q contains %q", id, id[i])
	}
	return nil
}

// checkValue: a greeting field must not contain ';', CR or LF.
func checkValue(what, v string) error {
	if i := strings.IndexAny(v, ";\r\n"); i >= 0 {
		return cfgErr("%s %q contains %q", what, v, v[i])
	}
	return nil
}

// checkListItem: an entry of a ','-separated greeting field.
func checkListItem(what, v string) error {
	if v == "" {
		return cfgErr("empty %s name", what)
	}
	if i := strings.IndexAny(v, ",;\r\n"); i >= 0 {
		return cfgErr("%s name %q contains %q", what, v, v[i])
	}
	return nil
}

func checkPairs(kvs []KV) error {
	for _, kv := range kvs {
		if kv.Key == "" {
			return cfgErr("greeting pair with empty key")
		}
		if i := strings.IndexAny(kv.Key, "=;\r\n"); i >= 0 {
			return cfgErr("greeting key %q contains %q", kv.Key, kv.Key[i])
		}
		switch kv.Key {
		case "provider", "peeraddr", "tls":
			return cfgErr("greeting key %q is set by the handshake itself", kv.Key)
		}
		if err := checkValue("greeting value", kv.Value); err != nil {
			return err
		}
	}
	return nil
}

func hasKey(kvs []KV, key string) bool {
	for _, kv := range kvs {
		if kv.Key == key {
			return true
		}
	}
	return false
}
