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
	var err error
	h.cfg, err = handshake.NewConfig(handshake.Options{
		NodeID:           n.id,
		Secret:           []byte(n.cfg.Secret),
		AuthOffer:        n.cfg.AuthOffer,
		AuthAccept:       n.cfg.AuthAccept,
		Framings:         n.cfg.Framings,
		TLS:              h.tls != nil,
		Provider:         n.cfg.Provider,
		AlreadyConnected: n.isConnected,
		Timeout:          n.cfg.MonitorTimeout,
	})
	return h, err
}
