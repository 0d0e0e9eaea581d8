package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
)

// GenSecret returns a new shared secret as Perl's aemp gensecret makes
// one: 64 random bytes written as a base-62 number with GMP's digits
// (0-9, A-Z, a-z), 86 characters at most.
func GenSecret(random io.Reader) (string, error) {
	var b [64]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", err
	}
	// big.Int uses a-z before A-Z for the digits 10..61; GMP the reverse.
	s := new(big.Int).SetBytes(b[:]).Text(62)
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, s), nil
}

// Certificate parameters of Perl's aemp gencert, which runs
// "openssl req -new -nodes -x509 -days 3650 -newkey rsa:2048
// -subj /CN=AnyEvent::MP".
const (
	certBits     = 2048
	certValidity = 3650 * 24 * time.Hour
	certCN       = "AnyEvent::MP"
)

// GenCert returns a new self-signed certificate and its key as one PEM
// text, the certificate first, as Perl's aemp gencert stores it in "cert":
// a 2048-bit RSA key (PKCS#8, unencrypted), subject and issuer
// CN=AnyEvent::MP, valid for 3650 days from now, SHA-256 signature, the
// extensions openssl req -x509 adds (CA:TRUE, critical; subject and
// authority key identifiers) and a random 159-bit serial number. Nodes
// sharing it trust each other, since the same PEM is also the CA.
func GenCert(random io.Reader, now time.Time) (string, error) {
	key, err := rsa.GenerateKey(random, certBits)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(random, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	// openssl's "hash" key identifier: SHA-1 of the subjectPublicKey bits.
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(pub, &spki); err != nil {
		return "", err
	}
	skid := sha1.Sum(spki.PublicKey.Bytes)
	exts, err := caExtensions(skid[:])
	if err != nil {
		return "", err
	}
	subject, err := utf8Name(certCN)
	if err != nil {
		return "", err
	}
	now = now.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		RawSubject:         subject,
		NotBefore:          now,
		NotAfter:           now.Add(certValidity),
		ExtraExtensions:    exts,
		SignatureAlgorithm: x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
		return "", err
	}
	if err := pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: kder}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// utf8Name returns the distinguished name CN=cn with the value as a
// UTF8String, as openssl writes it (crypto/x509 would pick
// PrintableString).
func utf8Name(cn string) ([]byte, error) {
	atv, err := asn1.Marshal(struct {
		Type  asn1.ObjectIdentifier
		Value string `asn1:"utf8"`
	}{asn1.ObjectIdentifier{2, 5, 4, 3}, cn})
	if err != nil {
		return nil, err
	}
	set, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: atv})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: set})
}

// caExtensions returns the extensions of a self-signed certificate made by
// openssl req -x509, in its order: subject key identifier, authority key
// identifier (the same key ID), basic constraints CA:TRUE (critical).
// (crypto/x509 would write them in another order.)
func caExtensions(keyID []byte) ([]pkix.Extension, error) {
	ski, err := asn1.Marshal(keyID)
	if err != nil {
		return nil, err
	}
	aki, err := asn1.Marshal(struct {
		KeyID []byte `asn1:"optional,tag:0"`
	}{keyID})
	if err != nil {
		return nil, err
	}
	bc, err := asn1.Marshal(struct{ IsCA bool }{true})
	if err != nil {
		return nil, err
	}
	return []pkix.Extension{
		{Id: asn1.ObjectIdentifier{2, 5, 29, 14}, Value: ski},
		{Id: asn1.ObjectIdentifier{2, 5, 29, 35}, Value: aki},
		{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bc},
	}, nil
}

// CheckCert reports whether pemText holds what the "cert" setting needs: a
// private key and a certificate that belong together.
func CheckCert(pemText []byte) error {
	var haveKey, haveCert bool
	for rest := pemText; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			haveCert = true
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			haveKey = true
		}
	}
	switch {
	case !haveKey && !haveCert:
		return fmt.Errorf("no PEM private key and certificate found")
	case !haveKey:
		return fmt.Errorf("no PEM private key found (the file must hold the key and the certificate)")
	case !haveCert:
		return fmt.Errorf("no PEM certificate found (the file must hold the key and the certificate)")
	}
	return nil
}
