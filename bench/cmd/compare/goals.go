package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// The performance issue's targets.
const (
	goalSinkVsPerl   = 80.0 // Go->Go sink json 20 B, one link, x Perl->Perl
	goalCPUNs        = 80.0 // receiver and sender CPU ns per message
	goalFanIn        = 0.9  // 32 links vs one link
	goalHandshakes   = 4.0  // x a Perl node
	goalConnCeiling  = 0.70 // handshakes / connection ceiling
	goalLargeCeiling = 0.50 // 64 KiB MB/s / loopback ceiling MB/s (cbor, storable)
	goalIdleBytes    = 1024
)

// status says whether a goal is met; known is false when its figures
// are missing.
func status(ok, known bool) string {
	switch {
	case !known:
		return "not measured"
	case ok:
		return "met"
	}
	return "**not met**"
}

// reported is the status of a figure that is only reported, or of a
// goal reported beside the one that counts ("reported: met").
func reported(ok, known bool, hasTarget bool) string {
	switch {
	case !known:
		return "not measured"
	case !hasTarget:
		return "reported"
	case ok:
		return "reported: met"
	}
	return "reported: not met"
}

// nsPerMsg is the median CPU nanoseconds per message of a cell's runs
// (f picks receiver or sender CPU); 0 without runs.
func nsPerMsg(c *cell, f func(run) float64) float64 {
	if c == nil {
		return 0
	}
	var v []float64
	for _, x := range c.Runs {
		if x.Count > 0 {
			v = append(v, f(x)/float64(x.Count)*1e9)
		}
	}
	return median(v)
}

func rxCPU(x run) float64 { return x.RxCPU }
func txCPU(x run) float64 { return x.TxCPU }

// p99Of is the median p99 of a cell's runs.
func p99Of(c *cell) float64 {
	if c == nil || len(c.Runs) == 0 {
		return 0
	}
	return medOf(c, func(x run) float64 { return x.P99 })
}

// mbps is a cell's median payload rate in MB/s.
func mbps(c *cell) float64 {
	if c == nil {
		return 0
	}
	return med(c) * float64(c.Size) / 1e6
}

// goals writes the table of the performance issue's goals, each met or
// not, then the earlier goals.
func (r *runner) goals(b *strings.Builder) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## Goals\n\n| goal | target | measured | |\n|---|---|---|---|\n")
	for _, f := range []string{"json", "cbor", "storable"} {
		gg := r.find(cfgGoGo, "sink", f, 20)
		if gg == nil && f != "json" {
			continue
		}
		v, pp := med(gg), med(r.find(cfgPerlPerl, "sink", f, 20))
		rx, tx := nsPerMsg(gg, rxCPU), nsPerMsg(gg, txCPU)
		if f == "json" {
			w("| Go->Go sink, json, 20 B, one link | >= %.0fx Perl->Perl | %s msgs/s = %s Perl->Perl (%s msgs/s) | %s |\n",
				goalSinkVsPerl, rate(v), ratio(v, pp), rate(pp), status(v/pp >= goalSinkVsPerl, v > 0 && pp > 0))
			w("| CPU per message, sink json 20 B, one link | <= %.0f ns receiver, <= %.0f ns sender | receiver %s ns, sender %s ns | %s |\n",
				goalCPUNs, goalCPUNs, ns(rx), ns(tx), status(rx <= goalCPUNs && tx <= goalCPUNs, rx > 0 && tx > 0))
			if g1 := r.find(cfgGoGo1CPU, "sink", f, 20); g1 != nil && len(g1.Runs) > 0 {
				v1, rx1, tx1 := med(g1), nsPerMsg(g1, rxCPU), nsPerMsg(g1, txCPU)
				w("| the same with `--procs 1` (1 CPU per process, as each Perl process has) | >= %.0fx; <= %.0f ns each end | %s msgs/s = %s Perl->Perl; receiver %s ns, sender %s ns per message | %s |\n",
					goalSinkVsPerl, goalCPUNs, rate(v1), ratio(v1, pp), ns(rx1), ns(tx1),
					status(v1/pp >= goalSinkVsPerl && rx1 <= goalCPUNs && tx1 <= goalCPUNs, v1 > 0 && pp > 0 && rx1 > 0 && tx1 > 0))
			}
			if gm := r.find(cfgGoGoMany, "sink", f, 20); gm != nil && len(gm.Runs) > 0 {
				vm, rxm, txm := med(gm), nsPerMsg(gm, rxCPU), nsPerMsg(gm, txCPU)
				w("| the same, all CPUs, the sender handing each batch of 1,000 to `Dest.SendMany` (`aemp bench --send-many`) | >= %.0fx; <= %.0f ns each end | %s msgs/s = %s Perl->Perl; receiver %s ns, sender %s ns per message | %s |\n",
					goalSinkVsPerl, goalCPUNs, rate(vm), ratio(vm, pp), ns(rxm), ns(txm),
					status(vm/pp >= goalSinkVsPerl && rxm <= goalCPUNs && txm <= goalCPUNs, vm > 0 && pp > 0 && rxm > 0 && txm > 0))
			}
			if gg := r.find(cfgGoGoGor, "sink", f, 20); gg != nil && len(gg.Runs) > 0 {
				vg, rxg, txg := med(gg), nsPerMsg(gg, rxCPU), nsPerMsg(gg, txCPU)
				w("| the same, all CPUs, every batch sent from a goroutine of the sender (`aemp bench --sender goroutine`: each Send hands its bytes to the event loop on another thread) | >= %.0fx; <= %.0f ns each end | %s msgs/s = %s Perl->Perl; receiver %s ns, sender %s ns per message | %s |\n",
					goalSinkVsPerl, goalCPUNs, rate(vg), ratio(vg, pp), ns(rxg), ns(txg),
					reported(vg/pp >= goalSinkVsPerl && rxg <= goalCPUNs && txg <= goalCPUNs, vg > 0 && pp > 0 && rxg > 0 && txg > 0, true))
			}
			continue
		}
		w("| the same, %s 20 B | >= %.0fx; <= %.0f ns each end | %s msgs/s = %s Perl->Perl; receiver %s ns, sender %s ns per message | %s |\n",
			f, goalSinkVsPerl, goalCPUNs, rate(v), ratio(v, pp), ns(rx), ns(tx),
			reported(v/pp >= goalSinkVsPerl && rx <= goalCPUNs && tx <= goalCPUNs, v > 0 && pp > 0 && rx > 0, true))
	}
	for _, f := range r.framings {
		in, one := med(r.find(cfgFanIn, "sink", f, 20)), med(r.find(cfgGoGo, "sink", f, 20))
		if in == 0 && f != "json" {
			continue
		}
		st := status(in/one >= goalFanIn, in > 0 && one > 0)
		if f != "json" {
			st = reported(in/one >= goalFanIn, in > 0 && one > 0, true)
		}
		w("| fan-in: %d links into one node, sink %s 20 B | >= %.1fx the one-link rate | %s msgs/s = %s of one link (%s msgs/s) | %s |\n",
			fanInConns, f, goalFanIn, rate(in), ratio(in, one), rate(one), st)
	}
	ml := r.find(cfgManyLinks, "ping", r.framings[0], 20)
	w("| %s links, one ping in flight each (%s 20 B) | total round trips/s and p99 | %s round trips/s, p99 %s µs | %s |\n",
		group(manyLinks), r.framings[0], rate(med(ml)), us(p99Of(ml)), reported(false, med(ml) > 0, false))
	fo := r.find(cfgFanOut, "sink", r.framings[0], 20)
	w("| fan-out: one node sending to %d nodes (sink %s 20 B) | aggregate rate | %s msgs/s | %s |\n",
		fanOutNodes, r.framings[0], rate(med(fo)), reported(false, med(fo) > 0, false))

	hs := median(r.handshakes.Values)
	hp := median(r.handshakesPerl.Values)
	note := ""
	if len(r.handshakesPerl.Notes) > 0 && strings.Contains(r.handshakesPerl.Notes[0], "cleartext") {
		note = "; the Perl peer lacked Digest::MD6 and authenticated with cleartext, checking nothing: cheaper than a real node, so the ratio understates Go"
	}
	w("| handshakes, %s, vs the Perl peer (bench/perl, same load generator) | >= %.0fx | %s/s vs %s/s = %s%s | %s |\n",
		handshakeAuth, goalHandshakes, rate(hs), rate(hp), ratio(hs, hp), note, status(hs/hp >= goalHandshakes, hs > 0 && hp > 0))
	if hn := median(r.handshakesPerlNode.Values); hn > 0 || r.handshakesPerlNode.Failed != "" {
		w("| handshakes, %s, vs the Perl node at %s | >= %.0fx | %s/s vs %s/s = %s | %s |\n",
			handshakeAuth, r.perlNode, goalHandshakes, rate(hs), rate(hn), ratio(hs, hn), status(hs/hn >= goalHandshakes, hs > 0 && hn > 0))
	} else {
		w("| handshakes vs a real AnyEvent::MP 1.30 node | >= %.0fx | not in this run (`-perl-node HOST:PORT`) | not measured |\n", goalHandshakes)
	}
	cc := median(r.connCeiling.Values)
	floor := ""
	if cf := median(r.connFloor.Values); cf > 0 && cc > 0 {
		floor = fmt.Sprintf("; the enrolment floor (no protocol, sockets through Go's accept and gnet's Enroll) reaches %s/s = %s of the ceiling, the handshakes %s of it",
			rate(cf), pct(cf, cc), pct(hs, cf))
	}
	w("| handshakes vs the connection ceiling | >= %.0f%% | %s/s = %s of %s/s%s | %s |\n",
		100*goalConnCeiling, rate(hs), pct(hs, cc), rate(cc), floor, status(hs/cc >= goalConnCeiling, hs > 0 && cc > 0))
	for _, f := range []string{"cbor", "storable", "json"} {
		g, c := r.find(cfgGoGo, "sink", f, largeSize), r.find(cfgCeiling, "sink", f, largeSize)
		gm, cm := mbps(g), mbps(c)
		st := status(gm/cm >= goalLargeCeiling, gm > 0 && cm > 0)
		target := fmt.Sprintf(">= %.0f%% of the loopback ceiling", 100*goalLargeCeiling)
		if f == "json" {
			st, target = reported(false, gm > 0 && cm > 0, false), "MB/s and fraction of the ceiling"
		}
		w("| 64 KiB messages, %s, one link | %s | %s MB/s = %s of %s MB/s | %s |\n", f, target, mb(gm), pct(gm, cm), mb(cm), st)
	}
	if d := r.idleDetail; d != nil {
		w("| idle memory per authenticated connection at %s | <= 1 KiB | %s bytes | %s |\n", group(float64(d.Conns)), group(d.BytesPerConn),
			status(d.BytesPerConn <= goalIdleBytes, true))
	} else {
		w("| idle memory per authenticated connection at 10,000 | <= 1 KiB | – | not measured |\n")
	}
	var names []string
	zero, known := true, false
	for _, a := range r.allocs {
		if strings.Contains(a.Name, "handler=args") {
			continue // decoding allocates by design: reported below
		}
		known = true
		zero = zero && a.AllocsPerOp == 0
		names = append(names, fmt.Sprintf("%s %.0f", strings.TrimPrefix(a.Name, "Benchmark"), a.AllocsPerOp))
	}
	meas := strings.Join(names, ", ")
	if r.allocsFailed != "" {
		meas += " (failed: " + strings.ReplaceAll(r.allocsFailed, "|", "/") + ")"
		known = false
	}
	w("| allocations per message on the hot path (-benchmem) | 0 | %s | %s |\n", orDash(meas), status(zero, known))
	w("\n")
	r.earlierGoals(b)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// ns formats nanoseconds per message.
func ns(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

// us formats microseconds.
func us(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

// mb formats MB/s.
func mb(v float64) string {
	if v <= 0 {
		return "–"
	}
	if v >= 100 {
		return group(v)
	}
	return fmt.Sprintf("%.1f", v)
}

// manyLinksSection reports fan-in, many links and fan-out.
func (r *runner) manyLinksSection(b *strings.Builder) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	var any bool
	for _, c := range r.cells {
		if c.cfg.Conns > 0 || c.cfg.Fanout > 0 {
			any = true
		}
	}
	if !any {
		return
	}
	w("\n## Many links\n\n")
	w("`aemp bench --conns C`: C links, each from a node ID of its own, on the load generator's event loops (GOMAXPROCS of them), every message encoded on its own as an engine link does; " +
		"the count is the total, batch (1000), outstanding (4) and in-flight (1) apply per link, the acknowledgements are the target's sink count, the rate is the sum. " +
		"\"1 link, links driver\" is the same driver with one link, the reference that isolates what the receiver does with many links from the difference between the drivers. " +
		"Fan-out: `aemp bench --mode fanout` from one aemp-go node to 32 `aemp node --procs 1` processes (node IDs target-0..31), the count shared evenly, one sending goroutine per receiver; receiver CPU is the sum over the 32.\n\n")
	w("| framing | one link (engine) | 1 link, links driver | %d links | %d links / one link | %d links / links driver 1 | rx CPU ns/msg (%d links) | tx CPU ns/msg (%d links) |\n|---|--:|--:|--:|--:|--:|--:|--:|\n",
		fanInConns, fanInConns, fanInConns, fanInConns, fanInConns)
	for _, f := range r.framings {
		one, l1, in := r.find(cfgGoGo, "sink", f, 20), r.find(cfgLinksOne, "sink", f, 20), r.find(cfgFanIn, "sink", f, 20)
		if in == nil && l1 == nil {
			continue
		}
		w("| %s 20 B | %s | %s | %s | %s | %s | %s | %s |\n", f, rate(med(one)), rate(med(l1)), rate(med(in)), ratio(med(in), med(one)), ratio(med(in), med(l1)),
			ns(nsPerMsg(in, rxCPU)), ns(nsPerMsg(in, txCPU)))
	}
	if c := r.find(cfgManyLinks, "ping", r.framings[0], 20); c != nil {
		one := r.find(cfgGoGo, "ping", r.framings[0], 20)
		if len(c.Runs) > 0 {
			w("\n%s links, one ping in flight on each, %s 20 B: **%s round trips/s** in total (one link: %s), p50 %s µs, **p99 %s µs**.\n",
				group(manyLinks), r.framings[0], rate(med(c)), rate(med(one)),
				us(medOf(c, func(x run) float64 { return x.P50 })), us(p99Of(c)))
		} else {
			w("\n%s links ping: %s\n", group(manyLinks), orDash(c.Failed+c.NA))
		}
	}
	if c := r.find(cfgFanOut, "sink", r.framings[0], 20); c != nil {
		if len(c.Runs) > 0 {
			w("\nFan-out, one node to %d nodes, sink %s 20 B: **%s msgs/s** in total (one link: %s); sender CPU %s ns/msg, receivers' CPU %s ns/msg together.\n",
				fanOutNodes, r.framings[0], rate(med(c)), rate(med(r.find(cfgGoGo, "sink", r.framings[0], 20))), ns(nsPerMsg(c, txCPU)), ns(nsPerMsg(c, rxCPU)))
		} else {
			w("\nFan-out: %s\n", orDash(c.Failed+c.NA))
		}
	}
}

// largeSection reports the 64 KiB rows in MB/s.
func (r *runner) largeSection(b *strings.Builder) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	var rows []string
	for _, f := range r.framings {
		g, c := r.find(cfgGoGo, "sink", f, largeSize), r.find(cfgCeiling, "sink", f, largeSize)
		if g == nil && c == nil {
			continue
		}
		lo, hi := 0.0, 0.0
		if g != nil {
			lo, hi = minMax(g.rates())
		}
		fail := ""
		if g != nil && len(g.Runs) == 0 {
			fail = " (" + strings.ReplaceAll(g.Failed, "|", "/") + ")"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s%s | %s–%s | %s | %s | %s | %s | %s |", f, mb(mbps(g)), fail, mb(lo*largeSize/1e6), mb(hi*largeSize/1e6),
			rate(med(g)), mb(mbps(c)), pct(mbps(g), mbps(c)), ns(nsPerMsg(g, rxCPU)/1e3), ns(nsPerMsg(g, txCPU)/1e3)))
	}
	if len(rows) == 0 {
		return
	}
	w("\n## Large messages: 64 KiB\n\n")
	w("Sink with 64 KiB payloads, one link, batches of %d (4 MiB) with 4 outstanding; MB/s of payload (10^6 bytes/s). "+
		"The ceiling sends the same frames pre-encoded, one frame per write, to a receiver that only counts bytes.\n\n", batchFor(largeSize))
	w("| framing | Go->Go MB/s | min–max | msgs/s | ceiling MB/s | of ceiling | rx CPU µs/msg | tx CPU µs/msg |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
	w("%s\n", strings.Join(rows, "\n"))
}

// allocsSection lists the -benchmem results.
func (r *runner) allocsSection(b *strings.Builder) {
	if len(r.allocs) == 0 && r.allocsFailed == "" {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("\n## Allocations on the hot path\n\n")
	w("`go test -run '^$' -bench NAME -benchmem` (both ends in one process over loopback; per message). The goal counts BenchmarkSendRemote and the handler=count cases; " +
		"handler=args also decodes the arguments into Go values, which allocates by design.\n\n")
	w("| benchmark | ns/op | B/op | allocs/op |\n|---|--:|--:|--:|\n")
	for _, a := range r.allocs {
		w("| %s | %.0f | %.0f | %.0f |\n", a.Name, a.NsPerOp, a.BytesPerOp, a.AllocsPerOp)
	}
	if r.allocsFailed != "" {
		w("\nfailed: %s\n", r.allocsFailed)
	}
}

// handshakesPerlText reports the handshakes against Perl.
func (r *runner) handshakesPerlText(b *strings.Builder) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	for _, s := range []series{r.handshakesPerl, r.handshakesPerlNode} {
		if s.Name == "" {
			continue
		}
		if s.Failed != "" {
			w("\n%s: failed: %s\n", s.Name, s.Failed)
			continue
		}
		if len(s.Values) == 0 {
			continue
		}
		lo, hi := minMax(s.Values)
		how := ""
		if len(s.Notes) > 0 {
			how = " (" + strings.Join(s.Notes, "; ") + ")"
		}
		w("\nThe same load generator against the %s%s: **%s handshakes/s** (min–max %s–%s, %d runs); Go's are %s of it.\n",
			strings.TrimPrefix(s.Name, "handshakes, "), how, group(median(s.Values)), group(lo), group(hi), len(s.Values),
			ratio(median(r.handshakes.Values), median(s.Values)))
	}
}

// profilesText lists the dedicated profile runs.
func (r *runner) profilesText(b *strings.Builder) {
	if len(r.profiles) == 0 {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("\n## CPU profiles\n\n")
	w("One-link sink runs, 20 B, with `aemp node --cpuprofile` and `aemp bench --cpuprofile` (see bench/README.md for reading them: a function's seconds / count = its ns per message).\n\n")
	w("| framing | messages | msgs/s | receiver ns/msg | sender ns/msg | receiver profile | sender profile |\n|---|--:|--:|--:|--:|---|---|\n")
	for _, p := range r.profiles {
		if p.Failed != "" {
			w("| %s | %s | failed: %s | | | | |\n", p.Framing, group(float64(p.Count)), strings.ReplaceAll(p.Failed, "|", "/"))
			continue
		}
		w("| %s | %s | %s | %s | %s | %s | %s |\n", p.Framing, group(float64(p.Count)), rate(p.Rate),
			ns(p.RxCPU/float64(p.Count)*1e9), ns(p.TxCPU/float64(p.Count)*1e9), filepath.Base(p.Receiver), filepath.Base(p.Sender))
	}
}
