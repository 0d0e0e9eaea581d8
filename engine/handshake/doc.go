// Package handshake implements the AEMP transport handshake (greeting,
// nonce, optional TLS switch, authentication) of AnyEvent::MP 1.30 and 2.x
// (2.0-2.02) as a sans-I/O state machine: it never touches sockets,
// goroutines or clocks.
//
// # Two generations
//
// Both generations use the same handshake (protocol version 1, same lines,
// same checks and messages); they differ in the authentication methods:
// 1.x knows only tls_md6_64_256 / hmac_md6_64_256, 2.x only tls_sha3_512 /
// hmac_sha3_512 (both accept tls_anon and cleartext). A 1.x node and a 2.x
// node therefore fail with "LIST: no common auth type supported". With the
// default Options one Config serves both at once, chosen per peer: our
// greeting lists DefaultAuthAccept, SHA3 before MD6, and each Perl
// generation picks the first entry it knows; we use the first method of
// the peer's list that we offer (DefaultAuthOffer has all four sendable
// ones), i.e. MD6 with 1.x and SHA3 with 2.x. AuthOffer1x /
// AuthAccept1x and AuthOffer2x / AuthAccept2x configure a node that
// behaves like one generation. Like 2.x we send mproto=1;gproto=1 (1.x
// ignores unknown keys; Options.NoProtoKeys turns them off). Result.Generation
// tells the caller which generation the peer looks like (rule: GenerationOf).
//
// # Use
//
// One *Config (from NewConfig) is shared by all connections; one *Handshake
// (from New) serves one connection, connector and acceptor alike:
//
//	h, err := handshake.New(cfg, handshake.ConnInfo{PeerAddr: addr})
//	write(h.Start())                  // our greeting lines, sent at once
//	// on every read (any split, even one byte at a time):
//	st, err := h.Feed(buf)
//	write(st.Out)                     // our auth line, when produced
//	discard(st.Consumed)
//	if err != nil { close }           // nothing after Consumed is used
//	if st.StartTLS != TLSNone {       // see below
//	if st.Done { r := h.Result(); data phase gets buf[st.Consumed:] }
//
// # TLS
//
// When we have TLS enabled and the peer's greeting carries tls with integer
// value 1, Feed stops right after the peer's nonce line and returns
// StartTLS = TLSClient (our nonce line compares lower, bytewise) or
// TLSServer. The bytes after Consumed are already TLS records: the caller
// starts TLS with that role on the same connection, giving TLS those bytes
// first, and calls TLSUp when the TLS handshake has succeeded (certificate
// verification is the caller's job). TLSUp returns our auth line, which is
// written inside TLS; from then on Feed gets the decrypted bytes.
//
// # Pipelined data
//
// Peers send their first data messages right behind their auth line, often
// in the same segment. Feed never consumes past the LF of the peer's auth
// line: when it reports Done, in[Consumed:] is the start of the data phase
// (in the framing Result.RecvFraming). On failure those bytes must be
// dropped unread.
//
// # Where this is stricter than AnyEvent::MP (1.30 and 2.x alike)
//
//   - Every handshake line is at most MaxLine (4096) bytes including its
//     line end, however the bytes are split; Perl checks its buffer per read
//     and may accept a longer line that arrives in one read. The error text
//     is ours ("greeting line too long (over 4096 bytes)", likewise "nonce",
//     "auth"); Perl reports "No space left on device".
//   - Identical nonce lines are refused as an echo attack even when greeting
//     line 1 differs (the protocol document's MUST; Perl only compares both
//     lines together).
//   - A peer greeting (plain "aemp") without node ID is refused.
//   - An "aemp-WORD" upgrade not listed in Options.Protocols is refused
//     ("unsupported protocol 'aemp-WORD'"); Perl would fail later on a
//     missing hook.
//   - The peer's auth method must be in our AuthAccept (Perl accepts every
//     method it knows; with the default AuthAccept we know and accept the
//     methods of both generations, a superset of either Perl's).
//   - cleartext, hmac_md6_64_256 and hmac_sha3_512 from the peer fail when
//     we have no secret (Perl would compare a cleartext token with "" and
//     accept an empty one). With TLS and a secret, an hmac_md6_64_256 token
//     is checked with the secret (1.30's code has no key there and checks an
//     HMAC over an empty message); hmac_sha3_512 inside TLS is checked with
//     the secret as 2.x does. Perl never sends an hmac method inside TLS,
//     and neither do we.
//   - The framing in the peer's auth line must be one of our Framings.
//   - Our own node ID, framing names, provider and extra greeting pairs are
//     validated (no ';', CR, LF; no '#' in the node ID; no ',' in list
//     entries). Nothing is escaped or unescaped (%3b/%25 are left alone).
//
// # Authentication tokens (docs/protocol.md section 3)
//
// With L1, L2 our greeting lines and R1, R2 the peer's (without line ends)
// and T = "L1\nL2\nR1\nR2\n", we send (all lowercase hex):
//
//   - hmac_sha3_512 (2.x): textbook HMAC-SHA3-512 (RFC 2104, block size 72,
//     the SHA3-512 rate) with key = the secret's bytes and message T;
//   - tls_sha3_512 (2.x, inside TLS only): SHA3-512 of T;
//   - hmac_md6_64_256 (1.x): HMAC-MD6-256 (64-byte block) with the
//     arguments swapped as 1.30 does: key T, message MD6-256(secret);
//   - tls_md6_64_256 (1.x, inside TLS only): MD6-256 of T;
//   - tls_anon (inside TLS only): empty; the peer is marked untrusted;
//   - cleartext: hex of the secret; accepted, never sent.
//
// We expect the same from the peer with R and L swapped (its own lines
// first).
//
// # Framings
//
// Framing names are opaque here: a caller may offer any list.
// DefaultFramings is the framing package's default order (cbor, json,
// storable), what every aemp-go node decodes; Framings1x is 1.30's list.
// Each side sends the first entry of the PEER's list that is in its own.
package handshake
