// Package handshake implements the AEMP transport handshake (greeting,
// nonce, optional TLS switch, authentication) of AnyEvent::MP 1.30 as a
// sans-I/O state machine: it never touches sockets, goroutines or clocks.
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
// # Where this is stricter than AnyEvent::MP 1.30
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
//     method it knows; with the default AuthAccept that is the same set).
//   - cleartext and hmac_md6_64_256 from the peer fail when we have no
//     secret (Perl would compare a cleartext token with "" and accept an
//     empty one). With TLS and a secret, an hmac_md6_64_256 token is checked
//     with the secret (Perl's code has no key there and checks an HMAC over
//     an empty message; Perl never sends hmac inside TLS itself).
//   - The framing in the peer's auth line must be one of our Framings.
//   - Our own node ID, framing names, provider and extra greeting pairs are
//     validated (no ';', CR, LF; no '#' in the node ID; no ',' in list
//     entries). Nothing is escaped or unescaped (%3b/%25 are left alone).
//
// # Authentication tokens (framing.md 1.5)
//
// With L1, L2 our greeting lines and R1, R2 the peer's (without line ends),
// we send for hmac_md6_64_256 the lowercase hex of HMAC-MD6-256 (64-byte
// block) with key "L1\nL2\nR1\nR2\n" and message MD6-256(secret), and expect
// the same with R and L swapped; tls_md6_64_256 is hex MD6-256 of
// "L1\nL2\nR1\nR2\n"; tls_anon is empty (peer marked untrusted); cleartext
// (hex of the secret) is accepted, never sent.
package handshake
