package handshake

import "strings"

// AnyEvent::MP generations, as reported by Result.Generation.
const (
	Gen1 = 1 // AnyEvent::MP 1.x (1.30): MD6 auth, "kil", Global on every node
	Gen2 = 2 // AnyEvent::MP 2.x (2.0-2.02): SHA3 auth, "kil1", g_* database
)

// GenerationOf says which AnyEvent::MP generation a peer looks like, from
// its greeting line 1 and the auth method of its auth line (empty when not
// known yet), as docs/protocol.md section 4 describes. The protocol
// version cannot tell: both send 1 (docs/protocol.md section 2.2). The
// first rule that applies decides:
//
//  1. The peer authenticated with a method only one generation knows:
//     hmac_sha3_512 / tls_sha3_512 -> Gen2, hmac_md6_64_256 /
//     tls_md6_64_256 -> Gen1. Perl 1.x neither sends nor accepts the SHA3
//     methods and 2.x not the MD6 ones, so for Perl nodes this is
//     conclusive; for aemp-go peers it is the generation they chose to
//     speak with us.
//  2. provider=AE-V (Perl's own provider string): V >= 2 -> Gen2, else
//     Gen1.
//  3. The greeting carries mproto or gproto (sent by 2.x, and by aemp-go
//     unless NoProtoKeys), or its auth list names a SHA3 method and no MD6
//     method -> Gen2.
//  4. Otherwise Gen1.
//
// Rules 2-4 matter only for tls_anon and cleartext (or an unknown method).
func GenerationOf(g *Greeting, peerAuth string) int {
	if m := lookupAuth(peerAuth); m != nil && m.gen != 0 {
		return m.gen
	}
	if p, ok := g.Value("provider"); ok {
		if v, ok := strings.CutPrefix(p, "AE-"); ok {
			if perlNum(v) >= 2 {
				return Gen2
			}
			return Gen1
		}
	}
	if _, ok := g.Value("mproto"); ok {
		return Gen2
	}
	if _, ok := g.Value("gproto"); ok {
		return Gen2
	}
	var sha3, md6 bool
	for _, a := range g.Auths {
		if m := lookupAuth(a); m != nil {
			sha3 = sha3 || m.gen == Gen2
			md6 = md6 || m.gen == Gen1
		}
	}
	if sha3 && !md6 {
		return Gen2
	}
	return Gen1
}
