package config

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
)

// gmpBase62 writes b as GMP's mpz_get_str(base 62) does, digit by digit.
func gmpBase62(b []byte) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	n := new(big.Int).SetBytes(b)
	if n.Sign() == 0 {
		return "0"
	}
	var out []byte
	m := new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, big.NewInt(62), m)
		out = append([]byte{digits[m.Int64()]}, out...)
	}
	return string(out)
}

func TestGenSecret(t *testing.T) {
	for _, seed := range [][]byte{bytes.Repeat([]byte{0xff}, 64), bytes.Repeat([]byte{0}, 64), []byte(strings.Repeat("AnyEvent::MP-", 5)[:64])} {
		got, err := GenSecret(bytes.NewReader(seed))
		if err != nil {
			t.Fatal(err)
		}
		if want := gmpBase62(seed); got != want {
			t.Errorf("GenSecret(%x) = %q; want %q", seed, got, want)
		}
	}
	a, _ := GenSecret(rand.Reader)
	b, _ := GenSecret(rand.Reader)
	if a == b || len(a) < 80 || len(a) > 86 {
		t.Errorf("two secrets: %q %q", a, b)
	}
	if _, err := GenSecret(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Errorf("a short random source gave a secret")
	}
}

func TestGenCert(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	text, err := GenCert(rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCert([]byte(text)); err != nil {
		t.Fatal(err)
	}
	b1, rest := pem.Decode([]byte(text))
	b2, rest := pem.Decode(rest)
	if b1 == nil || b1.Type != "CERTIFICATE" || b2 == nil || b2.Type != "PRIVATE KEY" || len(rest) != 0 {
		t.Fatalf("want a CERTIFICATE then a PRIVATE KEY block:\n%s", text)
	}
	c, err := x509.ParseCertificate(b1.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(b2.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() != 2048 || !rk.PublicKey.Equal(c.PublicKey) {
		t.Fatalf("key %T does not match the certificate or is not RSA 2048", key)
	}
	if c.Subject.String() != "CN=AnyEvent::MP" || c.Issuer.String() != "CN=AnyEvent::MP" ||
		!c.NotBefore.Equal(now.Truncate(time.Second)) || c.NotAfter.Sub(c.NotBefore) != 3650*24*time.Hour ||
		!c.IsCA || c.SignatureAlgorithm != x509.SHA256WithRSA || c.SerialNumber.BitLen() > 159 ||
		len(c.SubjectKeyId) != 20 || !bytes.Equal(c.SubjectKeyId, c.AuthorityKeyId) {
		t.Errorf("certificate: subject %s issuer %s %v..%v CA %v sig %v serial %d bits SKI %x AKI %x",
			c.Subject, c.Issuer, c.NotBefore, c.NotAfter, c.IsCA, c.SignatureAlgorithm, c.SerialNumber.BitLen(), c.SubjectKeyId, c.AuthorityKeyId)
	}
	var crit bool
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}) {
			crit = e.Critical
		}
	}
	if !crit {
		t.Errorf("basic constraints not critical (openssl req -x509 makes them critical)")
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
}

func TestCheckCert(t *testing.T) {
	text, _ := GenCert(rand.Reader, time.Now())
	cert, key, _ := strings.Cut(text, "-----END CERTIFICATE-----\n")
	for _, bad := range []string{"", "hello", cert + "-----END CERTIFICATE-----\n", key} {
		if CheckCert([]byte(bad)) == nil {
			t.Errorf("CheckCert accepted %.40q", bad)
		}
	}
}

var hexBytes = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*:?$`)

// TestGenCertOpenSSL compares GenCert's certificate with what the command
// Perl's aemp gencert runs makes, and has OpenSSL (what AnyEvent::TLS uses)
// verify ours for both TLS roles, with itself as the CA as AnyEvent::MP
// configures it.
func TestGenCertOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	text, _ := GenCert(rand.Reader, time.Now())
	ours := filepath.Join(dir, "ours.pem")
	os.WriteFile(ours, []byte(text), 0o600)
	for _, purpose := range []string{"sslserver", "sslclient"} {
		if out, err := exec.Command(openssl, "verify", "-purpose", purpose, "-CAfile", ours, ours).CombinedOutput(); err != nil {
			t.Errorf("openssl verify -purpose %s: %v\n%s", purpose, err, out)
		}
	}
	if out, err := exec.Command(openssl, "pkey", "-in", ours, "-check", "-noout").CombinedOutput(); err != nil {
		t.Errorf("openssl pkey -check: %v\n%s", err, out)
	}
	theirs := filepath.Join(dir, "theirs.pem")
	cmd := exec.Command(openssl, "req", "-new", "-nodes", "-x509", "-days", "3650", "-newkey", "rsa:2048",
		"-keyout", filepath.Join(dir, "theirs.key"), "-batch", "-subj", "/CN=AnyEvent::MP", "-out", theirs)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	shape := func(file string) string {
		out, err := exec.Command(openssl, "x509", "-in", file, "-noout", "-text").Output()
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(out), "\n") {
			l = strings.TrimSpace(l)
			switch {
			case l == "", strings.HasPrefix(l, "Not "), strings.HasPrefix(l, "Serial"), hexBytes.MatchString(l):
				// values that differ between any two certificates
			default:
				keep = append(keep, l)
			}
		}
		names, err := exec.Command(openssl, "x509", "-in", file, "-noout", "-subject", "-issuer", "-nameopt", "show_type").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(keep, "\n") + "\n" + string(names)
	}
	if a, b := shape(ours), shape(theirs); a != b {
		t.Errorf("GenCert's certificate differs in shape from openssl req's:\n--- ours\n%s\n--- openssl\n%s", a, b)
	}
	// The key openssl writes is PKCS#8 too.
	k, _ := os.ReadFile(filepath.Join(dir, "theirs.key"))
	if !bytes.HasPrefix(k, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("openssl's key starts %.30q; GenCert writes PKCS#8", k)
	}
}

// TestGenCertTLS has two aemp-go nodes configured with one gencert
// certificate (and no secret) connect: they must authenticate with TLS.
func TestGenCertTLS(t *testing.T) {
	text, err := GenCert(rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	up := make(chan engine.NodeEvent, 4)
	start := func(id string, seeds []string) *engine.Node {
		n, err := engine.New(engine.Config{
			NodeID: id, Binds: []string{"127.0.0.1:0"}, Seeds: seeds, CertPEM: []byte(text),
			MonitorTimeout: 5 * time.Second, EventLoops: 1,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			OnNodeEvent: func(ev engine.NodeEvent) {
				if ev.Up {
					select {
					case up <- ev:
					default:
					}
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n.Close(ctx)
		})
		return n
	}
	b := start("certB", nil)
	start("certA", b.Addrs())
	select {
	case ev := <-up:
		if !strings.HasPrefix(ev.Auth, "tls_") {
			t.Errorf("connection up with auth %q; want TLS", ev.Auth)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the nodes did not connect within 10 s")
	}
}
