// Package metrics exposes an engine.Node's counters to Prometheus (text
// format at /metrics) and as one log line, for operators.
//
// Nothing is counted here: every value is read from engine.Node.Stats
// when it is scraped or logged, so enabling metrics adds no work to
// sending or receiving a message. Stats walks the open connections, so a
// scrape costs in proportion to them (fine every second, not per
// message).
//
// There are no per-peer series: Stats has none, and node IDs are not a
// bounded set (every run of aemp snd is a new anon/ node), so labelling
// by peer would let the number of series grow without end. The only
// labels are reason, whose values are fixed lists (DropReasons and
// engine.HandshakeFailureKinds).
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aemp-go/aemp/engine"
)

// Kind is a Prometheus metric type.
type Kind string

// The metric types used here.
const (
	Counter Kind = "counter"
	Gauge   Kind = "gauge"
)

// Metric describes one exported metric family.
type Metric struct {
	Name  string
	Kind  Kind
	Label string // the one label, or ""
	Help  string // what it counts
	// values returns the family's samples: one per label value (in the
	// order of Labels), or one unlabelled sample.
	values func(st *engine.Stats) []int64
	// Labels are the label's values (nil when Label is "").
	Labels []string
}

// DropReasons are the values of the reason label of
// aemp_messages_dropped_total, in the order of engine.Stats'
// DroppedExpired, DroppedLinkLost and DroppedTranscode.
var DropReasons = []string{"expired", "link_lost", "transcode"}

// Metrics lists the node's metric families, as served at /metrics (the Go
// runtime's go_* and process_* metrics come on top).
var Metrics = []Metric{
	{Name: "aemp_messages_received_total", Kind: Counter,
		Help:   "Messages received from other nodes: every frame after the handshake, node-port requests and keepalives included.",
		values: func(st *engine.Stats) []int64 { return one(st.Received) }},
	{Name: "aemp_messages_sent_total", Kind: Counter,
		Help:   "Messages encoded for other nodes (node-port requests and keepalives included); a message later dropped is counted here and in aemp_messages_dropped_total.",
		values: func(st *engine.Stats) []int64 { return one(st.Sent) }},
	{Name: "aemp_bytes_received_total", Kind: Counter,
		Help:   "Bytes of the AEMP stream read from other nodes: greeting and auth lines and frames (inside TLS: the decrypted bytes).",
		values: func(st *engine.Stats) []int64 { return one(st.ReceivedBytes) }},
	{Name: "aemp_bytes_sent_total", Kind: Counter,
		Help:   "Bytes of the AEMP stream handed to the sockets: greeting and auth lines and frames (with TLS: before encryption).",
		values: func(st *engine.Stats) []int64 { return one(st.SentBytes) }},
	{Name: "aemp_messages_dropped_total", Kind: Counter, Label: "reason", Labels: DropReasons,
		Help: "Messages that Send accepted and that were not sent after all, by reason: expired (queued for a node that did not come up in time), link_lost (still in this node's buffer when the connection closed), transcode (queued in one framing, not re-encodable in the framing the link chose).",
		values: func(st *engine.Stats) []int64 {
			return []int64{st.DroppedExpired, st.DroppedLinkLost, st.DroppedTranscode}
		}},
	{Name: "aemp_dropped_bytes_total", Kind: Counter,
		Help:   "Bytes that Send accepted and no socket took: those of the dropped messages and what was still unsent when a connection closed.",
		values: func(st *engine.Stats) []int64 { return one(st.LostBytes) }},
	{Name: "aemp_messages_unknown_port_total", Kind: Counter,
		Help:   "Messages for ports that do not exist on this node (from other nodes or local sends), dropped without a reply as AnyEvent::MP does.",
		values: func(st *engine.Stats) []int64 { return one(st.UnknownPort) }},
	{Name: "aemp_backpressure_total", Kind: Counter,
		Help:   "Sends refused because the link (or the queue of an unconnected node) held more than the high-water mark; the sender got the error, nothing was dropped.",
		values: func(st *engine.Stats) []int64 { return one(st.Backpressure) }},
	{Name: "aemp_connections", Kind: Gauge,
		Help:   "Open connections, handshakes in progress included.",
		values: func(st *engine.Stats) []int64 { return one(st.Conns) }},
	{Name: "aemp_nodes_up", Kind: Gauge,
		Help:   "Other nodes with an authenticated connection.",
		values: func(st *engine.Stats) []int64 { return one(st.NodesUp) }},
	{Name: "aemp_handshakes_total", Kind: Counter,
		Help:   "Handshakes completed successfully, both directions (attempts = this + aemp_handshake_failures_total).",
		values: func(st *engine.Stats) []int64 { return one(st.Handshakes) }},
	{Name: "aemp_handshake_failures_total", Kind: Counter, Label: "reason", Labels: engine.HandshakeFailureKinds[:],
		Help: "Handshakes that failed, both directions, by reason: auth_failed (wrong token: the secrets differ), no_common_auth, no_common_framing, version, protocol (unparsable line), self (the peer has our node ID), already_connected, echo, no_secret, tls, timeout (not completed within the monitor timeout), closed (the peer closed: often it rejected our token), other.",
		values: func(st *engine.Stats) []int64 {
			v := make([]int64, len(engine.HandshakeFailureKinds))
			for i, k := range engine.HandshakeFailureKinds {
				v[i] = st.HandshakeFailures[k]
			}
			return v
		}},
	{Name: "aemp_send_queue_bytes", Kind: Gauge,
		Help:   "Bytes waiting to be written: messages queued for nodes that are not connected yet plus every connection's unsent bytes.",
		values: func(st *engine.Stats) []int64 { return one(st.QueuedBytes) }},
	{Name: "aemp_connections_refused_total", Kind: Counter,
		Help:   "Incoming connections closed at once because the connection limit (--max-conns) was reached.",
		values: func(st *engine.Stats) []int64 { return one(st.Refused) }},
	{Name: "aemp_accept_errors_total", Kind: Counter,
		Help:   "Failed accept calls on the listeners.",
		values: func(st *engine.Stats) []int64 { return one(st.AcceptErrors) }},
}

func one(v int64) []int64 { return []int64{v} }

// Collector is a prometheus.Collector of a node's counters. It calls the
// stats function once per scrape.
type Collector struct {
	stats func() engine.Stats
	descs []*prometheus.Desc
}

// NewCollector returns a collector that reads stats (usually a Node's
// Stats method) when scraped.
func NewCollector(stats func() engine.Stats) *Collector {
	c := &Collector{stats: stats}
	for _, m := range Metrics {
		var labels []string
		if m.Label != "" {
			labels = []string{m.Label}
		}
		c.descs = append(c.descs, prometheus.NewDesc(m.Name, m.Help, labels, nil))
	}
	return c
}

// Describe implements prometheus.Collector. Any goroutine may call it.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Any goroutine may call it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for i, m := range Metrics {
		typ := prometheus.CounterValue
		if m.Kind == Gauge {
			typ = prometheus.GaugeValue
		}
		for j, v := range m.values(&st) {
			if m.Label == "" {
				ch <- prometheus.MustNewConstMetric(c.descs[i], typ, float64(v))
			} else {
				ch <- prometheus.MustNewConstMetric(c.descs[i], typ, float64(v), m.Labels[j])
			}
		}
	}
}

// NewRegistry returns a registry holding the node's collector and the Go
// runtime and process collectors.
func NewRegistry(stats func() engine.Stats) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(NewCollector(stats),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the registry's metrics in Prometheus' exposition format.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{})
}

// Server serves /metrics over HTTP.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Serve listens on addr (host:port; port 0 picks one) and serves the
// node's metrics at /metrics in the background. Errors of the running
// server are logged to log.
func Serve(addr string, stats func() engine.Stats, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(NewRegistry(stats)))
	s := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, waiting for running scrapes until ctx ends.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// LogAttrs returns the counters of st as log attributes, named as the
// metrics without the aemp_ prefix and the _total suffix (one attribute
// per label value: dropped_expired, handshake_failures_auth_failed, ...;
// label values that are zero are left out to keep the line short).
func LogAttrs(st engine.Stats) []slog.Attr {
	var attrs []slog.Attr
	for _, m := range Metrics {
		name := m.Name[len("aemp_"):]
		if m.Kind == Counter {
			name = name[:len(name)-len("_total")]
		}
		vals := m.values(&st)
		if m.Label == "" {
			attrs = append(attrs, slog.Int64(name, vals[0]))
			continue
		}
		var sum int64
		for _, v := range vals {
			sum += v
		}
		attrs = append(attrs, slog.Int64(name, sum))
		for j, v := range vals {
			if v != 0 {
				attrs = append(attrs, slog.Int64(name+"_"+m.Labels[j], v))
			}
		}
	}
	return attrs
}
