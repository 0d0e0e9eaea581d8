package bench

import (
	"bufio"
	"errors"
	"net"

	"github.com/aemp-go/aemp/engine/handshake"
)

// handshakeConn runs an AEMP handshake over a blocking net.Conn. The
// handshake is symmetric (both sides send greeting and nonce, then their
// auth line), so this serves both the accepting and the connecting side.
// Bytes after the peer's auth line stay buffered in rd.
func handshakeConn(c net.Conn, rd *bufio.Reader, hs *handshake.Handshake) (*handshake.Result, error) {
	if _, err := c.Write(hs.Start()); err != nil {
		return nil, err
	}
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		st, err := hs.Feed(line)
		if len(st.Out) > 0 {
			if _, werr := c.Write(st.Out); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return nil, err
		}
		if st.StartTLS != handshake.TLSNone {
			return nil, errors.New("peer wants TLS; only plaintext is supported here")
		}
		if st.Done {
			return hs.Result(), nil
		}
	}
}
