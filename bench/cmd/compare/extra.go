package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// perlMD6 reports whether the Perl peer can authenticate with
// hmac_md6_64_256 (Digest::MD6 and Digest::HMAC_MD6, which Debian does not
// package, are installed, e.g. beside a real 1.30 node).
func perlMD6() bool {
	return exec.Command("perl", "-MDigest::MD6", "-MDigest::HMAC_MD6", "-e", "1").Run() == nil
}

// handshakeArgv is the connect run of the handshake measurements: 16
// concurrent connectors authenticating with hmac_md6_64_256; accept lists
// what we accept from the target ("": the same).
func (r *runner) handshakeArgv(addr, target, sec string, count int, accept string) []string {
	argv := []string{r.aemp, "bench", "--connect", addr, "--secret", sec, "--mode", "connect", "--count", strconv.Itoa(count),
		"--conns", strconv.Itoa(handshakeConc), "--auth", handshakeAuth, "--timeout", "120"}
	if target != "" {
		argv = append(argv, "--target", target)
	}
	if accept != "" {
		argv = append(argv, "--accept-auth", accept)
	}
	return argv
}

// runPerlHandshakes measures the same handshakes against the Perl peer
// (bench/perl/aemp-peer.pl, a fresh one per repetition) and, with
// -perl-node, against that node. The Perl peer authenticates with
// hmac_md6_64_256 and checks ours when Digest::MD6 is there; without it,
// it sends cleartext and checks nothing, so its handshakes cost it less
// than a real node's, and the Go/Perl ratio understates Go's lead.
func (r *runner) runPerlHandshakes() {
	r.handshakesPerl = series{Name: "handshakes, Perl peer (bench/perl/aemp-peer.pl)", Unit: "handshakes/s"}
	if r.perlWhy != "" {
		r.handshakesPerl.Failed = r.perlWhy
	} else {
		auth, accept := "cleartext", handshakeAuth+",cleartext"
		if perlMD6() {
			auth, accept = handshakeAuth, ""
		}
		r.handshakesPerl.Notes = []string{"peer auth: " + auth}
		logf("handshakes against aemp-peer.pl (--auth %s): aemp bench --mode connect --conns %d --auth %s", auth, handshakeConc, handshakeAuth)
		start := func() (*server, error) {
			return startServer("aemp-peer.pl", []string{"perl", filepath.Join(r.root, "bench/perl/aemp-peer.pl"), "--listen", "127.0.0.1:0",
				"--nodeid", "target", "--secret", secret, "--framing", "json", "--auth", auth}, nil, readyAddr)
		}
		r.handshakeSeries(&r.handshakesPerl, start, "target", secret, accept, auth)
	}
	if r.perlNode == "" {
		return
	}
	r.handshakesPerlNode = series{Name: "handshakes, external Perl node " + r.perlNode, Unit: "handshakes/s"}
	sec := r.perlNodeSecret
	if sec == "" {
		sec = secret
	}
	logf("handshakes against the Perl node at %s", r.perlNode)
	r.handshakeSeries(&r.handshakesPerlNode, func() (*server, error) { return &server{name: "external Perl node", addr: r.perlNode}, nil },
		r.perlNodeID, sec, "", handshakeAuth)
}

// handshakeSeries calibrates, then measures r.reps runs into s, each
// against a receiver from start; wantAuth is the auth the target must
// have used.
func (r *runner) handshakeSeries(s *series, start func() (*server, error), target, sec, accept, wantAuth string) {
	one := func(count int) (float64, error) {
		srv, err := start()
		if err != nil {
			return 0, err
		}
		defer srv.stop()
		o := runSender(r.handshakeArgv(srv.addr, target, sec, count, accept), 150*time.Second)
		if o.err != nil {
			return 0, o.err
		}
		if a := o.fields["auth"]; a != wantAuth {
			return 0, fmt.Errorf("the target authenticated with %q, not %s", a, wantAuth)
		}
		return num(o.fields["handshakes_per_s"]), nil
	}
	cal, err := one(300)
	if err != nil {
		s.Failed = err.Error()
		logf("  failed: %v", err)
		return
	}
	count := max(300, min(20000, int(cal*r.seconds)))
	for rep := 1; rep <= r.reps; rep++ {
		v, err := one(count)
		if err != nil {
			s.Failed = err.Error()
			logf("  failed: %v", err)
			return
		}
		s.Values = append(s.Values, v)
		logf("  rep %d/%d: %s handshakes/s (%d)", rep, r.reps, group(v), count)
	}
}

// benchLine is one line of `go test -bench -benchmem` output.
type benchLine struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
}

// allocBenchmarks are the hot-path benchmarks whose allocations per
// message must stay at 0 (the handler=args cases decode the arguments,
// which allocates by design: reported).
var allocBenchmarks = []struct{ pkg, re string }{
	{"./engine", "^BenchmarkSendRemote$"},
	{"./bench", "^BenchmarkEngineSinkInProcess$"},
}

// runAllocs runs the hot-path benchmarks with -benchmem.
func (r *runner) runAllocs() {
	n := "1000000x"
	if r.quick {
		n = "100000x"
	}
	for _, b := range allocBenchmarks {
		logf("allocations: go test -run '^$' -bench '%s' -benchmem -benchtime %s %s", b.re, n, b.pkg)
		out, err := r.command("go", "test", "-run", "^$", "-bench", b.re, "-benchmem", "-benchtime", n, "-count", "1", b.pkg).CombinedOutput()
		lines := parseBench(string(out))
		if err != nil || len(lines) == 0 {
			r.allocsFailed = fmt.Sprintf("%s %s: %v: %s", b.pkg, b.re, err, lastLine(string(out)))
			logf("  failed: %s", r.allocsFailed)
			continue
		}
		for _, l := range lines {
			logf("  %s: %.0f ns/op, %.0f B/op, %.0f allocs/op", l.Name, l.NsPerOp, l.BytesPerOp, l.AllocsPerOp)
		}
		r.allocs = append(r.allocs, lines...)
	}
}

// parseBench reads the result lines of `go test -bench -benchmem`.
func parseBench(out string) []benchLine {
	var l []benchLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		b := benchLine{Name: f[0], NsPerOp: -1, BytesPerOp: -1, AllocsPerOp: -1}
		if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
			if _, err := strconv.Atoi(b.Name[i+1:]); err == nil {
				b.Name = b.Name[:i] // the -GOMAXPROCS suffix
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				b.NsPerOp = v
			case "B/op":
				b.BytesPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			}
		}
		if b.AllocsPerOp >= 0 {
			l = append(l, b)
		}
	}
	return l
}

// profileRun is a dedicated one-link sink run with CPU profiles of both
// ends.
type profileRun struct {
	Framing  string  `json:"framing"`
	Count    int     `json:"count"`
	Rate     float64 `json:"msgs_per_s"`
	RxCPU    float64 `json:"receiver_cpu_s"`
	TxCPU    float64 `json:"sender_cpu_s"`
	Receiver string  `json:"receiver_profile"`
	Sender   string  `json:"sender_profile"`
	Failed   string  `json:"failed,omitempty"`
}

// runProfiles (with -profile DIR) profiles the one-link sink, 20 B, each
// framing: a fresh `aemp node --cpuprofile` receiving from `aemp bench
// --cpuprofile`, nothing else, so that a profile's samples divided by
// the count are the CPU per message of each end.
func (r *runner) runProfiles() {
	for _, f := range r.framings {
		count := 2_000_000
		if r.quick {
			count = 300_000
		}
		if c := r.find(cfgGoGo, "sink", f, 20); c != nil && len(c.Runs) > 0 {
			count = max(count, c.Runs[0].Count)
		}
		base := filepath.Join(r.profileDir, "sink-"+f+"-20B-1link")
		p := profileRun{Framing: f, Count: count, Receiver: base + ".receiver.pprof", Sender: base + ".sender.pprof"}
		logf("profile: sink %s 20 B, one link, %d messages -> %s.{receiver,sender}.pprof", f, count, base)
		srv, err := startServer("aemp node", []string{r.aemp, "node", "--bind", "127.0.0.1:0", "--nodeid", "target", "--secret", secret,
			"--cpuprofile", p.Receiver}, nil, aempReady)
		if err != nil {
			p.Failed = err.Error()
		} else {
			rx0 := srv.cpu()
			o := runSender([]string{r.aemp, "bench", "--connect", srv.addr, "--target", "target", "--secret", secret, "--mode", "sink",
				"--count", strconv.Itoa(count), "--size", "20", "--framing", f, "--cpuprofile", p.Sender, "--timeout", "300"}, 330*time.Second)
			p.RxCPU = srv.cpu() - rx0
			srv.stop() // the node writes its profile when it stops
			if o.err != nil {
				p.Failed = o.err.Error()
			} else {
				p.Rate, p.TxCPU = num(o.fields["msgs_per_s"]), o.cpu
			}
		}
		if p.Failed != "" {
			logf("  failed: %s", p.Failed)
		} else if _, err := os.Stat(p.Receiver); err != nil {
			p.Failed = "no receiver profile: " + err.Error()
		} else {
			logf("  %s msgs/s; CPU per message: receiver %.0f ns, sender %.0f ns", group(p.Rate), p.RxCPU/float64(count)*1e9, p.TxCPU/float64(count)*1e9)
		}
		r.profiles = append(r.profiles, p)
	}
}
