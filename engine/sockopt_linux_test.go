package engine

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSocketOptions checks the options every connection gets, inbound and
// outbound: keepalive with the configured timing, and TCP_NODELAY as
// configured (set when the socket is made, not by gnet).
func TestSocketOptions(t *testing.T) {
	for _, noDelay := range []bool{true, false} {
		cfg := Config{KeepAliveIdle: 7 * time.Second, KeepAliveInterval: 3 * time.Second, KeepAliveCount: 4}
		if !noDelay {
			off := false
			cfg.NoDelay = &off
		}
		b := startNode(t, "ka-b", cfg)
		cfg.Seeds = b.Addrs()
		a := startNode(t, "ka-a", cfg)
		a.waitEvent(t, "ka-b", true, 5*time.Second)
		b.waitEvent(t, "ka-a", true, 5*time.Second)
		for _, n := range []*testNode{a, b} {
			conns := n.connList()
			if len(conns) != 1 {
				t.Fatalf("%s: %d connections", n.cfg.NodeID, len(conns))
			}
			gt, ok := conns[0].driver().(*gnetDriver)
			if !ok {
				t.Fatalf("%s: transport %T", n.cfg.NodeID, conns[0].driver())
			}
			fd := gt.gc.Fd()
			want := map[string][2]int{
				"SO_KEEPALIVE":     {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
				"TCP_KEEPIDLE":     {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
				"TCP_KEEPINTVL":    {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
				"TCP_KEEPCNT":      {unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
				"TCP_NODELAY":      {unix.IPPROTO_TCP, unix.TCP_NODELAY},
				"TCP_USER_TIMEOUT": {unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT},
			}
			expect := map[string]int{"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 7, "TCP_KEEPINTVL": 3, "TCP_KEEPCNT": 4, "TCP_NODELAY": 0,
				"TCP_USER_TIMEOUT": 19000}
			if noDelay {
				expect["TCP_NODELAY"] = 1
			}
			for name, lv := range want {
				v, err := unix.GetsockoptInt(fd, lv[0], lv[1])
				if err != nil {
					t.Fatalf("%s: %s: %v", n.cfg.NodeID, name, err)
				}
				if (v != 0) != (expect[name] != 0) || (name != "SO_KEEPALIVE" && name != "TCP_NODELAY" && v != expect[name]) {
					t.Errorf("%s (nodelay %v): %s = %d, want %d", n.cfg.NodeID, noDelay, name, v, expect[name])
				}
			}
		}
		a.Close(t.Context())
		b.Close(t.Context())
	}
}
