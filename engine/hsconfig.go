package engine

import "github.com/aemp-go/aemp/engine/handshake"

// hsConfig is the handshake configuration shared by all connections.
type hsConfig struct {
	cfg *handshake.Config
	tls *tlsConfigs // nil without a certificate
}

func newHSConfig(n *Node) (hsConfig, error) {
	var h hsConfig
	if len(n.cfg.CertPEM) > 0 {
		t, err := newTLSConfigs(n.cfg.CertPEM)
		if err != nil {
			return h, err
		}
		h.tls = t
	}
	offer, accept, noProtoKeys := n.cfg.AuthOffer, n.cfg.AuthAccept, false
	switch n.cfg.Generation {
	case handshake.Gen1: // a 1.30 node: MD6 methods, no 2.x greeting keys
		offer = orList(offer, handshake.AuthOffer1x)
		accept = orList(accept, handshake.AuthAccept1x)
		noProtoKeys = true
	case handshake.Gen2:
		offer = orList(offer, handshake.AuthOffer2x)
		accept = orList(accept, handshake.AuthAccept2x)
	}
	var err error
	h.cfg, err = handshake.NewConfig(handshake.Options{
		NodeID:           n.id,
		Secret:           []byte(n.cfg.Secret),
		AuthOffer:        offer,
		AuthAccept:       accept,
		NoProtoKeys:      noProtoKeys,
		Framings:         n.cfg.Framings,
		TLS:              h.tls != nil,
		Provider:         n.cfg.Provider,
		AlreadyConnected: n.isConnected,
		Timeout:          n.cfg.MonitorTimeout,
	})
	return h, err
}

// orList returns l, or def when l is empty.
func orList(l, def []string) []string {
	if len(l) > 0 {
		return l
	}
	return def
}
