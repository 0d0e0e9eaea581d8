package handshake

import (
	"crypto/hmac"
	"crypto/sha3"
	"encoding/hex"
	"hash"
	"slices"
	"sync"

	"github.com/aemp-go/aemp/md6"
)

// Auth method names. The MD6 pair is AnyEvent::MP 1.x's, the SHA3 pair
// AnyEvent::MP 2.x's (docs/protocol.md section 3); tls_anon and cleartext
// exist in both.
const (
	AuthTLSMD6   = "tls_md6_64_256"
	AuthHMACMD6  = "hmac_md6_64_256"
	AuthTLSSHA3  = "tls_sha3_512"
	AuthHMACSHA3 = "hmac_sha3_512"
	AuthTLSAnon  = "tls_anon"
	AuthClear    = "cleartext"
)

// authMethod describes one authentication method. Adding a method means
// adding one entry to authMethods (and, if it needs a per-secret
// precomputation, one field to secretKeys).
type authMethod struct {
	name string
	// gen is the AnyEvent::MP generation that knows this method: 1 (MD6),
	// 2 (SHA3) or 0 (both: tls_anon, cleartext). Perl 1.x neither sends nor
	// accepts the 2.x methods and vice versa.
	gen int
	// tls: valid only inside TLS (the tls_* methods); never selected and
	// never accepted without TLS.
	tls bool
	// secret: needs the shared secret.
	secret bool
	// sendable: we may select it ourselves. cleartext is accepted, never sent.
	sendable bool
	// untrusted: a peer authenticated this way is marked untrusted (tls_anon).
	untrusted bool
	// token appends the lowercase-hex token that the side which sent the
	// greeting lines a1, a2 and received b1, b2 sends; transcript is
	// "a1\na2\nb1\nb2\n". The side verifying a token calls it with the
	// peer's lines first.
	token func(dst []byte, k *secretKeys, transcript []byte) []byte
}

// sha3BlockSize is the HMAC block size of SHA3-512: its rate, 72 bytes
// (what crypto/sha3's BlockSize reports and crypto/hmac uses).
const sha3BlockSize = 72

// secretKeys holds what the methods derive from the shared secret, computed
// once per Config.
type secretKeys struct {
	has     bool     // a non-empty secret is configured
	md6     [32]byte // MD6-256(secret): the HMAC message of hmac_md6_64_256
	sha3Key []byte   // the HMAC-SHA3-512 key of hmac_sha3_512 (see below)
	hexText []byte   // lowercase hex of the secret: the cleartext token
	// sha3MACs holds HMAC-SHA3-512 states keyed with sha3Key: Reset
	// returns one to its keyed start without hashing the key again.
	sha3MACs *sync.Pool
}

func newSecretKeys(secret []byte) secretKeys {
	if len(secret) == 0 {
		return secretKeys{}
	}
	k := secretKeys{
		has:     true,
		md6:     md6.Sum256(secret),
		sha3Key: append([]byte(nil), secret...),
		hexText: []byte(hex.EncodeToString(secret)),
	}
	// RFC 2104 replaces a key longer than the block size by its hash; doing
	// it here once gives the same MAC (crypto/hmac would do it per token).
	if len(secret) > sha3BlockSize {
		sum := sha3.Sum512(secret)
		k.sha3Key = sum[:]
	}
	key := k.sha3Key
	k.sha3MACs = &sync.Pool{New: func() any { return hmac.New(newSHA3512, key) }}
	return k
}

func newSHA3512() hash.Hash { return sha3.New512() }

var authMethods = [...]authMethod{
	{
		// SHA3-512 over the transcript, own lines first (docs/protocol.md
		// section 3.3).
		name: AuthTLSSHA3, gen: 2, tls: true, sendable: true,
		token: func(dst []byte, _ *secretKeys, t []byte) []byte {
			sum := sha3.Sum512(t)
			return hex.AppendEncode(dst, sum[:])
		},
	},
	{
		// Textbook HMAC-SHA3-512 (block size 72), key = the secret, message
		// = the transcript (docs/protocol.md section 3.2, verified against
		// real tokens).
		name: AuthHMACSHA3, gen: 2, secret: true, sendable: true,
		token: func(dst []byte, k *secretKeys, t []byte) []byte {
			mac := k.sha3MACs.Get().(hash.Hash)
			mac.Reset()
			mac.Write(t)
			var sum [64]byte
			dst = hex.AppendEncode(dst, mac.Sum(sum[:0]))
			k.sha3MACs.Put(mac)
			return dst
		},
	},
	{
		// MD6-256 over the transcript, own lines first (docs/protocol.md
		// section 3.3).
		name: AuthTLSMD6, gen: 1, tls: true, sendable: true,
		token: func(dst []byte, _ *secretKeys, t []byte) []byte {
			sum := md6.Sum256(t)
			return hex.AppendEncode(dst, sum[:])
		},
	},
	{
		// HMAC-MD6-256, 64-byte block; AnyEvent::MP 1.30 passes the
		// transcript as the HMAC key and MD6(secret) as the message
		// (docs/protocol.md section 3.1, verified against real tokens).
		name: AuthHMACMD6, gen: 1, secret: true, sendable: true,
		token: func(dst []byte, k *secretKeys, t []byte) []byte {
			mac := md6.HMAC256(t, k.md6[:])
			return hex.AppendEncode(dst, mac[:])
		},
	},
	{
		name: AuthTLSAnon, tls: true, sendable: true, untrusted: true,
		token: func(dst []byte, _ *secretKeys, _ []byte) []byte { return dst },
	},
	{
		name: AuthClear, secret: true,
		token: func(dst []byte, k *secretKeys, _ []byte) []byte { return append(dst, k.hexText...) },
	},
}

func lookupAuth(name string) *authMethod {
	for i := range authMethods {
		if authMethods[i].name == name {
			return &authMethods[i]
		}
	}
	return nil
}

// appendTranscript appends "a1\na2\nb1\nb2\n".
func appendTranscript(dst []byte, a1, a2, b1, b2 string) []byte {
	dst = append(dst, a1...)
	dst = append(dst, '\n')
	dst = append(dst, a2...)
	dst = append(dst, '\n')
	dst = append(dst, b1...)
	dst = append(dst, '\n')
	dst = append(dst, b2...)
	return append(dst, '\n')
}

// computeToken returns the token that the side which sent a1, a2 and
// received b1, b2 sends with method m.
func computeToken(m *authMethod, k *secretKeys, a1, a2, b1, b2 string) []byte {
	tok, _ := scratchToken(nil, m, k, a1, a2, b1, b2)
	return tok
}

// scratchToken is computeToken working in scratch: the transcript is
// written to its start and the token after it, both growing scratch if
// needed. It returns the token (which aliases scratch) and scratch, for
// reuse.
func scratchToken(scratch []byte, m *authMethod, k *secretKeys, a1, a2, b1, b2 string) (token, grown []byte) {
	t := appendTranscript(scratch[:0], a1, a2, b1, b2)
	t = slices.Grow(t, 128) // room for the longest token (SHA3-512 in hex)
	return m.token(t[len(t):], k, t), t
}

// scratchPool holds the buffers in which transcripts and tokens are
// computed: a handshake needs one twice, briefly, and a node does
// thousands of handshakes a second.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}
