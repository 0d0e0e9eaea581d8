package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/services"
)

// scrape GETs url and returns every sample as "name{label=\"v\"}" ->
// value, and the HELP text and type of every family.
func scrape(t *testing.T, url string) (samples map[string]float64, help, types map[string]string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("not Prometheus' text format: %v", err)
	}
	samples, help, types = map[string]float64{}, map[string]string{}, map[string]string{}
	for name, f := range fams {
		help[name] = f.GetHelp()
		types[name] = strings.ToLower(f.GetType().String())
		for _, m := range f.GetMetric() {
			key := name
			if l := m.GetLabel(); len(l) > 0 {
				var parts []string
				for _, lp := range l {
					parts = append(parts, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
				}
				key += "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				samples[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				samples[key] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				samples[key] = m.GetUntyped().GetValue()
			default:
				samples[key] = -1 // summaries, histograms: present
			}
		}
	}
	return samples, help, types
}

// TestExposition: every field of Stats appears under its metric name,
// with its type, its help text, exactly its label values, and the value
// read at scrape time; the Go runtime's metrics come along.
func TestExposition(t *testing.T) {
	st := engine.Stats{
		Conns: 3, NodesUp: 2, Refused: 4, AcceptErrors: 5, Handshakes: 6,
		HandshakeFailures: map[string]int64{},
		Received:          7, ReceivedBytes: 8, Sent: 9, SentBytes: 10, UnknownPort: 11,
		Backpressure: 12, DroppedExpired: 13, DroppedLinkLost: 14, DroppedTranscode: 15,
		LostBytes: 16, QueuedBytes: 17,
	}
	for i, k := range engine.HandshakeFailureKinds {
		st.HandshakeFailures[k] = int64(100 + i)
	}
	calls := 0
	srv := httptest.NewServer(Handler(NewRegistry(func() engine.Stats { calls++; return st })))
	defer srv.Close()
	got, help, types := scrape(t, srv.URL)
	if calls != 1 {
		t.Errorf("Stats read %d times for one scrape, want 1", calls)
	}
	want := map[string]float64{
		"aemp_messages_received_total":                              7,
		"aemp_messages_sent_total":                                  9,
		"aemp_bytes_received_total":                                 8,
		"aemp_bytes_sent_total":                                     10,
		`aemp_messages_dropped_total{reason="expired"}`:             13,
		`aemp_messages_dropped_total{reason="link_lost"}`:           14,
		`aemp_messages_dropped_total{reason="transcode"}`:           15,
		"aemp_dropped_bytes_total":                                  16,
		"aemp_messages_unknown_port_total":                          11,
		"aemp_backpressure_total":                                   12,
		"aemp_connections":                                          3,
		"aemp_nodes_up":                                             2,
		"aemp_handshakes_total":                                     6,
		"aemp_send_queue_bytes":                                     17,
		"aemp_connections_refused_total":                            4,
		"aemp_accept_errors_total":                                  5,
		`aemp_handshake_failures_total{reason="auth_failed"}`:       100,
		`aemp_handshake_failures_total{reason="closed"}`:            111,
		`aemp_handshake_failures_total{reason="other"}`:             112,
		`aemp_handshake_failures_total{reason="tls"}`:               109,
		`aemp_handshake_failures_total{reason="no_secret"}`:         108,
		`aemp_handshake_failures_total{reason="timeout"}`:           110,
		`aemp_handshake_failures_total{reason="self"}`:              105,
		`aemp_handshake_failures_total{reason="echo"}`:              107,
		`aemp_handshake_failures_total{reason="version"}`:           103,
		`aemp_handshake_failures_total{reason="protocol"}`:          104,
		`aemp_handshake_failures_total{reason="no_common_auth"}`:    101,
		`aemp_handshake_failures_total{reason="no_common_framing"}`: 102,
		`aemp_handshake_failures_total{reason="already_connected"}`: 106,
	}
	var aemp []string
	for k := range got {
		if strings.HasPrefix(k, "aemp_") {
			aemp = append(aemp, k)
		}
	}
	if len(aemp) != len(want) {
		slices.Sort(aemp)
		t.Errorf("%d aemp samples, want %d: %v", len(aemp), len(want), aemp)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for _, m := range Metrics {
		if help[m.Name] != m.Help || help[m.Name] == "" {
			t.Errorf("%s: help %q", m.Name, help[m.Name])
		}
		if types[m.Name] != string(m.Kind) {
			t.Errorf("%s: type %s, want %s", m.Name, types[m.Name], m.Kind)
		}
	}
	for _, k := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %s", k)
		}
	}
}

// TestLogAttrs: the log line carries every counter, label sums and the
// non-zero label values.
func TestLogAttrs(t *testing.T) {
	st := engine.Stats{Received: 7, DroppedLinkLost: 2, DroppedExpired: 1,
		HandshakeFailures: map[string]int64{"auth_failed": 3}}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).LogAttrs(context.Background(), slog.LevelInfo, "stats", LogAttrs(st)...)
	line := b.String()
	for _, want := range []string{" messages_received=7 ", " messages_dropped=3 ", " messages_dropped_expired=1 ",
		" messages_dropped_link_lost=2 ", " handshake_failures=3 ", " handshake_failures_auth_failed=3 ",
		" connections=0 ", " send_queue_bytes=0 "} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "transcode") || strings.Contains(line, "handshake_failures_closed") {
		t.Errorf("zero label values in the line:\n%s", line)
	}
}

func newNode(t *testing.T, id, secret string, seeds ...string) *engine.Node {
	t.Helper()
	n, err := engine.New(engine.Config{NodeID: id, Binds: []string{"127.0.0.1:0"}, Seeds: seeds, Secret: secret,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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

// delta returns after[k] - before[k] for every key of either.
func delta(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if strings.HasPrefix(k, "aemp_") {
			d[k] = v - before[k]
		}
	}
	return d
}

// TestSinkRunAndFailedHandshake: the served counters follow a sink run
// exactly (N messages received, the bytes the sender sent, nothing
// dropped), and a handshake with a wrong secret adds exactly one
// auth_failed on the node that checked the token and nothing else.
func TestSinkRunAndFailedHandshake(t *testing.T) {
	a := newNode(t, "A", "right")
	sink, err := services.ServeSink(a)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Serve("127.0.0.1:0", a.Stats, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	url := "http://" + srv.Addr() + "/metrics"

	// B connects to A as a plain peer, not as its seed: between 2.x nodes
	// a seed gets the mesh's g_slave traffic, which would run into the
	// counts below.
	b := newNode(t, "B", "right")
	b.Connect(a.Addrs()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.WaitNode(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return a.Stats().NodesUp == 1 })
	before, _, _ := scrape(t, url)
	if before["aemp_handshakes_total"] != 1 || before["aemp_nodes_up"] != 1 || before["aemp_connections"] != 1 {
		t.Fatalf("after one handshake: handshakes %v nodes_up %v connections %v", before["aemp_handshakes_total"],
			before["aemp_nodes_up"], before["aemp_connections"])
	}
	bBefore := b.Stats()

	const n = 5000
	payload := strings.Repeat("x", 100)
	d := b.Dest("A#sink")
	for i := 0; i < n; {
		switch err := d.Send("sink", payload); {
		case err == nil:
			i++
		case errors.Is(err, engine.ErrBackpressure):
			if err := d.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { got, _ := sink.Counts(); return got == n })
	waitFor(t, func() bool { return b.Stats().QueuedBytes == 0 })
	after, _, _ := scrape(t, url)
	bAfter := b.Stats()
	sentBytes := float64(bAfter.SentBytes - bBefore.SentBytes)
	if got := float64(bAfter.Sent - bBefore.Sent); got != n {
		t.Errorf("sender counted %v messages sent, want %d", got, n)
	}
	want := map[string]float64{
		"aemp_messages_received_total": n,
		"aemp_bytes_received_total":    sentBytes,
	}
	for k, v := range delta(before, after) {
		if w := want[k]; v != w {
			t.Errorf("sink run: %s went up by %v, want %v", k, v, w)
		}
	}
	if sentBytes < n*100 {
		t.Errorf("sender sent %v bytes for %d messages of 100 bytes", sentBytes, n)
	}

	// A node with the wrong secret: A rejects its token.
	before = after
	c := newNode(t, "C", "wrong")
	cBefore := c.Stats()
	c.Connect(a.Addrs()[0])
	waitFor(t, func() bool {
		s, _, _ := scrape(t, url)
		return s[`aemp_handshake_failures_total{reason="auth_failed"}`] > before[`aemp_handshake_failures_total{reason="auth_failed"}`] &&
			s["aemp_connections"] == 1
	})
	waitFor(t, func() bool { return c.Stats().Conns == 0 })
	after, _, _ = scrape(t, url)
	for k, v := range delta(before, after) {
		var w float64
		switch k {
		case `aemp_handshake_failures_total{reason="auth_failed"}`:
			w = 1
		case "aemp_bytes_received_total", "aemp_bytes_sent_total":
			if v <= 0 {
				t.Errorf("failed handshake: %s went up by %v", k, v)
			}
			continue
		}
		if v != w {
			t.Errorf("failed handshake: %s went up by %v, want %v", k, v, w)
		}
	}
	// The dialling side counts its own failure once, under some reason.
	cst := c.Stats()
	var total int64
	for k, v := range cst.HandshakeFailures {
		total += v - cBefore.HandshakeFailures[k]
	}
	if total != 1 || cst.Handshakes != 0 {
		t.Errorf("dialling node: %d failures, %d handshakes; want 1, 0 (%v)", total, cst.Handshakes, cst.HandshakeFailures)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
