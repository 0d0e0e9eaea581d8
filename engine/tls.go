package engine

// TLS design: gnet has no TLS. When both greetings ask for TLS, the
// connection leaves its event loop: the socket is duplicated, the gnet
// side is closed (closing one descriptor of a duplicated pair leaves the
// socket open), bytes gnet had already read after the greeting are put in
// front of the new reader (they are the peer's first TLS records), and the
// connection continues under crypto/tls on two goroutines of its own: a
// reader feeding conn.consume and a writer flushing conn's pending output.
// Plaintext connections never pay for this.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/aemp-go/aemp/engine/handshake"
	"github.com/panjf2000/gnet/v2"
)

// tlsConfigs holds the client and server side configurations built from
// Config.CertPEM.
type tlsConfigs struct {
	client, server *tls.Config
}

// newTLSConfigs parses the PEM (private key, certificate, optional CA
// certificates). As in the original, the same PEM is the CA the peer's
// certificate must chain to, and client certificates are required. Host
// names are not checked (node IDs are not host names).
func newTLSConfigs(pemText []byte) (*tlsConfigs, error) {
	cert, err := tls.X509KeyPair(pemText, pemText)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	pool := x509.NewCertPool()
	rest := pemText
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		ca, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		pool.AddCert(ca)
	}
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("peer sent no certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			if certs[i], err = x509.ParseCertificate(r); err != nil {
				return err
			}
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		return err
	}
	base := &tls.Config{
		Certificates:          []tls.Certificate{cert},
		MinVersion:            tls.VersionTLS12,
		InsecureSkipVerify:    true, // replaced by verify: chain only, no host name
		VerifyPeerCertificate: verify,
		ClientAuth:            tls.RequireAnyClientCert,
	}
	return &tlsConfigs{client: base, server: base.Clone()}, nil
}

// switchToTLS moves c from its event loop to a stream transport that
// starts with the TLS handshake. It runs on the event loop inside
// OnTraffic, which then closes the gnet side.
func (n *Node) switchToTLS(c *conn, gc gnet.Conn) error {
	if n.hsConfig.tls == nil {
		return errors.New("TLS requested without a certificate")
	}
	fd, err := gc.Dup()
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "aemp-tls")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	early, _ := gc.Peek(-1)
	early = append([]byte(nil), early...)
	if len(early) > 0 {
		gc.Discard(len(early))
	}
	n.runStream(c, nc, true, early)
	return nil
}

// startTLS performs the TLS handshake in the role the nonces decided on
// raw, whose first bytes are early (already read from the socket), then
// queues our auth line for the writer.
func (t *streamTransport) startTLS(early []byte) error {
	c := t.c
	n := c.n
	if n.hsConfig.tls == nil {
		return errors.New("TLS requested without a certificate")
	}
	raw := &prefixConn{Conn: t.raw, prefix: early}
	var tc *tls.Conn
	hs := c.hs.Load()
	if hs.tlsRole == handshake.TLSClient {
		tc = tls.Client(raw, n.hsConfig.tls.client)
	} else {
		tc = tls.Server(raw, n.hsConfig.tls.server)
	}
	tc.SetDeadline(time.Unix(0, hs.deadline))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("%w handshake: %w", errTLS, err)
	}
	tc.SetWriteDeadline(time.Time{})
	t.rw.Store(&connRef{tc})
	c.state.Store(stHandshake)
	line, err := hs.TLSUp()
	if err != nil {
		return err
	}
	c.queueRaw(line)
	t.wake()
	return nil
}

// prefixConn returns prefix before reading from Conn.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		k := copy(b, p.prefix)
		p.prefix = p.prefix[k:]
		return k, nil
	}
	return p.Conn.Read(b)
}
