package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testCertPEM returns a self-signed certificate and its key as one PEM
// text, the form AnyEvent::MP's "cert" setting takes.
func testCertPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
}

// TestTLS connects two nodes that share a certificate, with tls_md6_64_256
// (the default first choice) and with tls_anon, in every framing, and
// checks that a peer whose certificate does not verify is refused.
func TestTLS(t *testing.T) {
	cert := testCertPEM(t, "aemp-test")
	for _, tc := range []struct {
		name    string
		offer   []string
		framing []string
		auth    string
	}{
		{"tls_sha3/json", nil, []string{"json"}, "tls_sha3_512"},
		{"tls_md6/json", []string{"tls_md6_64_256"}, []string{"json"}, "tls_md6_64_256"},
		{"tls_md6/storable", []string{"tls_md6_64_256"}, []string{"storable"}, "tls_md6_64_256"},
		{"tls_anon/json", []string{"tls_anon"}, []string{"json", "storable"}, "tls_anon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startNode(t, "tlsB", Config{CertPEM: cert, Framings: tc.framing})
			a := startNode(t, "tlsA", Config{CertPEM: cert, AuthOffer: tc.offer, Framings: tc.framing, Seeds: b.Addrs()})
			a.waitEvent(t, "tlsB", true, 10*time.Second)
			b.waitEvent(t, "tlsA", true, 10*time.Second)
			rc, rid := newCollector(t, a.Node, "reply")
			for i := 0; i < 100; i++ {
				mustf(t, a.Send("tlsB#echo", rid, int64(i), strings.Repeat("z", i*100)), "send")
			}
			for i := 0; i < 100; i++ {
				got := rc.next(t, 5*time.Second)
				if fmt.Sprint(got[0]) != fmt.Sprint(i) || len(got[1].(string)) != i*100 {
					t.Fatalf("reply %d: %v", i, got[0])
				}
			}
			if !strings.Contains(b.log.String(), "auth="+tc.auth) {
				t.Errorf("B did not see auth %s:\n%s", tc.auth, b.log.String())
			}
		})
	}
	t.Run("untrusted certificate", func(t *testing.T) {
		b := startNode(t, "tlsB", Config{CertPEM: cert})
		a := startNode(t, "rogue", Config{CertPEM: testCertPEM(t, "rogue"), Seeds: b.Addrs()})
		time.Sleep(1500 * time.Millisecond)
		if b.isConnected("rogue") || a.isConnected("tlsB") {
			t.Fatal("a peer with an unverifiable certificate was accepted")
		}
		b.log.waitLog(t, "TLS handshake", 5*time.Second)
	})
}
