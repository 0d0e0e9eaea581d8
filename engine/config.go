package engine

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/aemp-go/aemp/engine/mesh"
	"github.com/aemp-go/aemp/framing"
)

// maxBacklog bounds the high-water mark and the encoding of one message,
// so that a connection's unsent bytes stay below 1 GiB (counted in 32
// bits).
const maxBacklog = 512 << 20

// Config describes a node. The zero value of every field means the
// AnyEvent::MP 1.30 default where there is one.
type Config struct {
	// NodeID names the node. Empty: the host name, as Perl does. "anon/"
	// is replaced by "anon/" and a random string.
	NodeID string
	// Binds are the listen addresses ("host:port"; port 0 picks one).
	// None: a listener-less node, which must connect out.
	Binds []string
	// Seeds are addresses connected at start and whenever they are down.
	Seeds []string
	// Secret is the shared secret: the key of hmac_sha3_512 (2.x) and of
	// hmac_md6_64_256 (1.x).
	Secret string
	// CertPEM enables TLS: the PEM text holds the private key and the
	// certificate, and serves as the CA for verifying the peer, which must
	// present a certificate too (as the original).
	CertPEM []byte
	// AuthOffer lists the methods this node may authenticate itself with;
	// the first of the peer's list that is here is used (default: both
	// generations' methods, so 1.x peers get MD6 and 2.x peers SHA3).
	AuthOffer []string
	// AuthAccept lists the methods advertised in the greeting (default
	// tls_sha3_512, hmac_sha3_512, tls_md6_64_256, hmac_md6_64_256,
	// tls_anon, cleartext).
	AuthAccept []string
	// Framings are the framings offered and accepted, in preference
	// order (default framing.DefaultOrder: cbor, json, storable).
	Framings []string
	// MonitorTimeout bounds a handshake, the time messages for an
	// unreachable node are kept, and the write-idle interval after which a
	// listener-less node sends a keepalive (default 30 s).
	MonitorTimeout time.Duration
	// ConnectInterval is the pause between connection attempts to a seed
	// (default 2 s).
	ConnectInterval time.Duration
	// NoDelay turns TCP_NODELAY off when set to false (default on).
	NoDelay *bool
	// MaxFrameSize is the largest frame accepted (default 64 MiB).
	MaxFrameSize int
	// HighWaterMark is how many unsent bytes a connection (or the queue of
	// an unconnected node) may hold before Send reports ErrBackpressure
	// (default 16 MiB, at most 512 MiB). It is also what a busy
	// connection's memory may come to: once its backlog passes 1 MiB, its
	// two output buffers (one filling, one being written) grow fourfold at
	// a time, up to the mark plus 256 KiB, and stay so until it has been
	// quiet for a second.
	HighWaterMark int
	// MaxConns caps open connections; further ones are refused at once
	// (default: the open-file limit less 64, at least 16).
	MaxConns int
	// KeepAliveIdle, KeepAliveInterval and KeepAliveCount tune TCP
	// keepalive (defaults 30 s, 10 s, 3): a dead peer of an idle link is
	// noticed after about idle + interval*count.
	KeepAliveIdle     time.Duration
	KeepAliveInterval time.Duration
	KeepAliveCount    int
	// ReleaseAfterBurst: once at least this many connections have been
	// opened since the last release and none for 2 s, the node runs
	// debug.FreeOSMemory, so that the garbage of a connection storm (a
	// handshake allocates some KiB) does not stay in the process's RSS
	// (default 1000; negative: never).
	ReleaseAfterBurst int
	// EventLoops is the number of gnet event loops (default: GOMAXPROCS).
	EventLoops int
	// Logger receives connection and error logs (default: slog.Default()).
	Logger *slog.Logger
	// OnNodeEvent is called when a connection to another node comes up or
	// goes down. It runs on an event loop: it must not block.
	OnNodeEvent func(NodeEvent)
	// Provider is sent in the greeting (default "aemp-go").
	Provider string
	// Generation restricts the node to one AnyEvent::MP generation: 1
	// speaks only 1.x (MD6 auth, the Global service), 2 only 2.x (SHA3
	// auth, the global database); 0, the default, speaks both and talks
	// to each peer in the generation it shows (aemp-go nodes, which offer
	// both, choose 2.x between them). Explicit AuthOffer and AuthAccept
	// lists are used as given.
	Generation int
	// MeshLimits bound what other nodes can make this node's mesh state
	// hold (see mesh.Limits: known nodes 10,000, addresses per node 16,
	// entries from one node 100,000, entries in all 1,000,000, strings
	// 1 KiB).
	MeshLimits mesh.Limits
	// MaxMeshDialsPerSecond bounds the connections the mesh opens to
	// nodes it learnt of, per second (default 20); more wait.
	MaxMeshDialsPerSecond int
}

// NodeEvent reports a change of another node's connection, or a failed
// attempt to connect to one.
type NodeEvent struct {
	// Node is the other node's ID. For a failed attempt whose peer did
	// not say who it is, the address dialled.
	Node string
	// Up is true when an authenticated connection to Node came up.
	Up bool
	// Attempt is true for a connection attempt of ours that failed (Up is
	// false): the connection could not be made ("Connection refused") or
	// its handshake failed. The node was not up before and is not now.
	// Such events come once per failed attempt, as soon as it fails.
	Attempt bool
	// Reason says why the node went down or the attempt failed, in
	// AnyEvent::MP's words ("Unexpected end-of-file", "unable to
	// connect", "authentication failure/shared secret mismatch", ...).
	Reason string
	// Err is the error behind a failed attempt, for errors.Is (for
	// example ErrAuthFailed); nil otherwise.
	Err error
	// Addr is the remote address of the connection.
	Addr string
	// For Up events: the auth method the peer used, the framing we send
	// and the framing the peer sends.
	Auth, SendFraming, RecvFraming string
}

// defaults fills in the zero fields.
func (c *Config) defaults() error {
	if c.NodeID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "anon/"
		}
		c.NodeID = h
	}
	if c.NodeID == "anon/" {
		var b [12]byte
		rand.Read(b[:])
		c.NodeID = "anon/" + strings.NewReplacer("x", "x0", "/", "x1", "+", "x2").Replace(base64.RawStdEncoding.EncodeToString(b[:]))
	}
	if strings.ContainsAny(c.NodeID, ";#\r\n") {
		return fmt.Errorf("%w: node ID %q contains one of ; # CR LF", ErrConfig, c.NodeID)
	}
	if len(c.Framings) == 0 {
		c.Framings = framing.DefaultOrder()
	}
	if c.MonitorTimeout <= 0 {
		c.MonitorTimeout = 30 * time.Second
	}
	if c.ConnectInterval <= 0 {
		c.ConnectInterval = 2 * time.Second
	}
	if c.MaxFrameSize <= 0 {
		c.MaxFrameSize = 64 << 20
	}
	if c.HighWaterMark <= 0 {
		c.HighWaterMark = 16 << 20
	}
	if c.HighWaterMark > maxBacklog {
		return fmt.Errorf("%w: HighWaterMark %d is over %d", ErrConfig, c.HighWaterMark, maxBacklog)
	}
	if c.ReleaseAfterBurst == 0 {
		c.ReleaseAfterBurst = 1000
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 16
		var rl syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur > 80 {
			c.MaxConns = int(min(rl.Cur-64, 1<<30))
		}
	}
	if c.KeepAliveIdle <= 0 {
		c.KeepAliveIdle = 30 * time.Second
	}
	if c.KeepAliveInterval <= 0 {
		c.KeepAliveInterval = 10 * time.Second
	}
	if c.KeepAliveCount <= 0 {
		c.KeepAliveCount = 3
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Generation < 0 || c.Generation > 2 {
		return fmt.Errorf("%w: Generation %d is not 0, 1 or 2", ErrConfig, c.Generation)
	}
	if c.MaxMeshDialsPerSecond <= 0 {
		c.MaxMeshDialsPerSecond = 20
	}
	if c.Provider == "" {
		c.Provider = "aemp-go"
	}
	if c.Secret == "" && len(c.CertPEM) == 0 {
		return fmt.Errorf("%w: neither a secret nor a certificate is configured; every handshake would fail", ErrConfig)
	}
	return nil
}

func (c *Config) noDelay() bool { return c.NoDelay == nil || *c.NoDelay }
