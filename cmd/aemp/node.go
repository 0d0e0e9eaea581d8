package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/metrics"
	"github.com/aemp-go/aemp/services"
)

const nodeUsage = `usage: aemp node [--nodeid ID] [--bind HOST:PORT ...] [--seed HOST:PORT ...]
                 [--secret S | --secret-file F] [--framing cbor,json,storable]
                 [--auth-offer LIST] [--auth-accept LIST] [--cert PEMFILE]
                 [--monitor-timeout SECONDS] [--config FILE] [--profile NAME]
                 [--keepalive-idle S --keepalive-interval S --keepalive-count N]
                 [--group NAME ...] [--generation 1|2] [--max-conns N]
                 [--metrics HOST:PORT] [--stats-interval SECONDS]
                 [--procs N] [--cpuprofile FILE] [--memprofile FILE] [-v]

Runs an AEMP node (wire-compatible with AnyEvent::MP 1.x and 2.x) serving three ports:
  echo     [REPLYPORT, ARGS...] is answered with ARGS... sent to REPLYPORT
  calecho  [ARGS..., REPLYPORT] is answered with ARGS... sent to REPLYPORT
           (the form of Perl's cal and of aemp cal)
  sink     counts messages; ["report", REPLYPORT] answers
           ["count", N, BYTES, CPUSEC]; ["reset"] zeroes the counts
Other nodes may spawn ports answering like echo (init function aemp::echo).
The node takes part in the mesh of AnyEvent::MP 1.x (Global service) and
2.x (global database): --seed nodes find it and its groups (--group).

Configuration: the AnyEvent::MP configuration file, as Perl nodes read it
($PERL_ANYEVENT_MP_RC if set, else ~/.perl-anyevent-mp; --config FILE
instead; PERL_ANYEVENT_MP_RC=/dev/null for none), profile --profile NAME
(default: the host name), from it: nodeid, secret, cert, binds, seeds,
monitor_timeout, framing_format, auth_offer, auth_accept, nodelay and
parent. Flags override the file, and $AEMP_SECRET the file's secret.
Without binds it listens on 127.0.0.1:4040; --bind none makes it
listener-less. --bind and --seed may be repeated and take comma lists.
With neither a secret nor a certificate the node refuses to start. A
configuration file that cannot be read or used (not JSON, a profile
loop) is one line on stderr. Exit status: 0 after a signal, 1 when it
cannot listen, 2 on a usage or configuration error.

Once listening it prints "READY nodeid=ID binds=HOST:PORT,..." on stdout
(after "METRICS http://HOST:PORT/metrics" with --metrics), then logs to
stderr. Ctrl-C (SIGINT) or SIGTERM closes it gracefully. SIGUSR1 (and
every --stats-interval) logs one line "stats" with the counters below.

--metrics HOST:PORT serves them in Prometheus' text format at /metrics,
with the Go runtime's go_* and process_* metrics. They are read from the
node's counters when scraped (no cost per message). There are no per-peer
series (node IDs are not a bounded set); the only label is reason, with
the fixed values below.
METRICS
flags:
`

// listFlag collects repeated flags that may also hold comma lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

// nodeFlags are the flags of "aemp node".
type nodeFlags struct {
	fs                              *flag.FlagSet
	binds, seeds, groups            listFlag
	nodeID, secret, secretFile      *string
	framings, authOffer, authAccept *string
	certFile, configFile, profile   *string
	cpuProfile, memProfile          *string
	metricsAddr                     *string
	monitor, keepIdle, keepIntvl    *float64
	statsInterval                   *float64
	keepCount, maxConns, procs      *int
	generation                      *int
	verbose                         *bool
	// cmd names the command in messages: node, or run.
	cmd string
	// configureArgs are configure's key/value pairs (aemp run), below the
	// file's settings as in AnyEvent::MP 1.30.
	configureArgs map[string]any
}

// newNodeFlags defines the flags of "aemp node" on a new flag set.
func newNodeFlags(stderr io.Writer) *nodeFlags {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &nodeFlags{fs: fs, cmd: "node"}
	f.nodeID = fs.String("nodeid", "", "node `ID` (default: host name; anon/ for a random one)")
	fs.Var(&f.binds, "bind", "listen on `HOST:PORT` (repeatable, comma lists; none: no listener)")
	fs.Var(&f.seeds, "seed", "connect to `HOST:PORT` and keep reconnecting (repeatable)")
	f.generation = fs.Int("generation", 0, "speak only AnyEvent::MP `GEN` 1 (MD6 auth, Global service) or 2 (SHA3, global database); default both")
	fs.Var(&f.groups, "group", "register the echo port in the mesh under `NAME` (1.x group, 2.x family; repeatable)")
	f.secret = fs.String("secret", "", "shared `SECRET` (else $AEMP_SECRET, else the config file)")
	f.secretFile = fs.String("secret-file", "", "read the secret from `FILE` (one line)")
	f.framings = fs.String("framing", "", "framings offered, in preference order: json, cbor, storable (default cbor,json,storable)")
	f.authOffer = fs.String("auth-offer", "", "auth methods to authenticate with (default tls_sha3_512,hmac_sha3_512,tls_md6_64_256,hmac_md6_64_256)")
	f.authAccept = fs.String("auth-accept", "", "auth methods advertised (default tls_sha3_512,hmac_sha3_512,tls_md6_64_256,hmac_md6_64_256,tls_anon,cleartext)")
	f.certFile = fs.String("cert", "", "`PEMFILE` with private key and certificate: enables TLS")
	f.monitor = fs.Float64("monitor-timeout", 0, "`SECONDS` for handshakes, connect attempts and keepalives (default 30)")
	f.configFile = fs.String("config", "", "AnyEvent::MP configuration `FILE` (default $PERL_ANYEVENT_MP_RC, else ~/.perl-anyevent-mp, if it exists)")
	f.profile = fs.String("profile", "", "profile of the configuration file (default: the host name)")
	f.verbose = fs.Bool("v", false, "log debug messages")
	f.cpuProfile = fs.String("cpuprofile", "", "write a CPU profile to `FILE` until the node stops")
	f.memProfile = fs.String("memprofile", "", "write a heap profile to `FILE` when the node stops (before its connections close)")
	f.keepIdle = fs.Float64("keepalive-idle", 0, "TCP keepalive: `SECONDS` idle before probing (default 30)")
	f.keepIntvl = fs.Float64("keepalive-interval", 0, "TCP keepalive: `SECONDS` between probes (default 10)")
	f.keepCount = fs.Int("keepalive-count", 0, "TCP keepalive: unanswered probes before the link is dead (default 3)")
	f.maxConns = fs.Int("max-conns", 0, "refuse connections beyond `N` (default: the open-file limit less 64)")
	f.metricsAddr = fs.String("metrics", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics (port 0 picks one)")
	f.statsInterval = fs.Float64("stats-interval", 0, "log a line of the counters every `SECONDS` (SIGUSR1: at once)")
	f.procs = fs.Int("procs", 0, "run on at most `N` CPUs (GOMAXPROCS) with one event loop each (default: all)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), strings.Replace(nodeUsage, "METRICS\n", metricsHelp(), 1))
		fs.PrintDefaults()
	}
	return f
}

// metricsHelp lists the metrics with what they count, for --help.
func metricsHelp() string {
	var b strings.Builder
	for _, m := range metrics.Metrics {
		name := m.Name
		if m.Label != "" {
			name += "{" + m.Label + "}"
		}
		fmt.Fprintf(&b, "  %s (%s)\n", name, m.Kind)
		for _, l := range strings.Split(wrap(m.Help, 70), "\n") {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	return b.String()
}

// runNode implements "aemp node".
func runNode(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runNodeFlags(newNodeFlags(stderr), args, stdout, stderr)
}

// runNodeFlags parses args with f and runs the node until a signal.
func runNodeFlags(f *nodeFlags, args []string, stdout, stderr io.Writer) int {
	if done, code := parseFlags(f.fs, args, stdout); done {
		return code
	}
	prefix := "aemp " + f.cmd + ":"
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s unexpected argument %q\n", prefix, f.fs.Arg(0))
		return 2
	}
	if *f.procs < 0 {
		fmt.Fprintln(stderr, prefix, "--procs must be positive")
		return 2
	}
	if *f.statsInterval < 0 {
		fmt.Fprintln(stderr, prefix, "--stats-interval must be positive")
		return 2
	}
	setProcs(*f.procs)
	level := slog.LevelInfo
	if *f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := f.config(log)
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return 2
	}
	stopProfile, err := startProfiles(*f.cpuProfile, *f.memProfile)
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return 2
	}
	defer stopProfile()
	n, err := engine.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return 2
	}
	if _, err := services.Serve(n); err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return 1
	}
	if err := n.Start(); err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return 1
	}
	if *f.metricsAddr != "" {
		srv, err := metrics.Serve(*f.metricsAddr, n.Stats, log)
		if err != nil {
			fmt.Fprintln(stderr, prefix, "--metrics:", err)
			n.Close(context.Background())
			return 1
		}
		defer srv.Close(context.Background())
		fmt.Fprintf(stdout, "METRICS http://%s/metrics\n", srv.Addr())
	}
	for _, g := range f.groups {
		if _, err := n.RegisterGroup(g, n.ID()+"#echo"); err != nil {
			fmt.Fprintln(stderr, prefix, err)
			return 1
		}
	}
	sig := notifySignals() // before READY: a signal right after it is ours
	fmt.Fprintf(stdout, "READY nodeid=%s binds=%s\n", n.ID(), strings.Join(n.Addrs(), ","))
	logStats := func() {
		log.LogAttrs(context.Background(), slog.LevelInfo, "stats", metrics.LogAttrs(n.Stats())...)
	}
	waitForSignal(sig, logStats, seconds(*f.statsInterval))
	log.Info("closing")
	if *f.memProfile != "" {
		if err := writeHeapProfile(*f.memProfile); err != nil {
			log.Error("heap profile", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
	return 0
}

// notifySignals starts catching the signals waitForSignal handles.
func notifySignals() chan os.Signal {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1)
	return sig
}

// waitForSignal returns on SIGINT or SIGTERM (caught through sig, from
// notifySignals). On SIGUSR1, and every interval if it is positive, it
// calls stats.
func waitForSignal(sig chan os.Signal, stats func(), interval time.Duration) {
	defer signal.Stop(sig)
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case s := <-sig:
			if s != syscall.SIGUSR1 {
				return
			}
			stats()
		case <-tick:
			stats()
		}
	}
}

// config builds the node's configuration: the configuration file (--config,
// else the one Perl nodes read; a missing file is an empty one), then the
// flags over it.
func (f *nodeFlags) config(log *slog.Logger) (cfg engine.Config, err error) {
	path := *f.configFile
	if path == "" {
		path = perlConfigPath()
	}
	p := *f.profile
	if p == "" {
		p, _ = os.Hostname()
	}
	pc, err := loadPerlConfigArgs(path, p, f.configureArgs)
	if err != nil {
		return cfg, err
	}
	if err := applyPerlConfig(&cfg, pc); err != nil {
		return cfg, err
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["nodeid"] {
		cfg.NodeID = *f.nodeID
	}
	if len(f.binds) > 0 {
		cfg.Binds = f.binds
	} else if cfg.Binds == nil {
		cfg.Binds = []string{"127.0.0.1:4040"}
		defer func() {
			if err == nil {
				log.Info("no --bind given: listening on 127.0.0.1:4040")
			}
		}()
	}
	if len(cfg.Binds) == 1 && cfg.Binds[0] == "none" {
		cfg.Binds = nil
	}
	if len(f.seeds) > 0 {
		cfg.Seeds = f.seeds
	}
	switch {
	case set["secret"]:
		cfg.Secret = *f.secret
	case set["secret-file"]:
		b, err := os.ReadFile(*f.secretFile)
		if err != nil {
			return cfg, err
		}
		cfg.Secret = strings.TrimRight(string(b), "\r\n")
	case os.Getenv("AEMP_SECRET") != "":
		cfg.Secret = os.Getenv("AEMP_SECRET")
	}
	if *f.framings != "" {
		cfg.Framings = splitList(*f.framings)
	}
	if *f.authOffer != "" {
		cfg.AuthOffer = splitList(*f.authOffer)
	}
	if *f.authAccept != "" {
		cfg.AuthAccept = splitList(*f.authAccept)
	}
	if *f.certFile != "" {
		b, err := os.ReadFile(*f.certFile)
		if err != nil {
			return cfg, err
		}
		cfg.CertPEM = b
	}
	if *f.monitor < 0 {
		return cfg, errors.New("--monitor-timeout must be positive")
	}
	if *f.monitor > 0 {
		cfg.MonitorTimeout = seconds(*f.monitor)
	}
	if cfg.Secret == "" && len(cfg.CertPEM) == 0 {
		return cfg, errors.New("no secret and no certificate configured: give --secret, $AEMP_SECRET, --cert or a config file with one (every handshake would fail)")
	}
	cfg.KeepAliveIdle = seconds(*f.keepIdle)
	cfg.KeepAliveInterval = seconds(*f.keepIntvl)
	cfg.KeepAliveCount = *f.keepCount
	cfg.MaxConns = *f.maxConns
	cfg.Generation = *f.generation
	cfg.Logger = log
	return cfg, nil
}

// startProfiles starts the CPU profile (cpu != "") and fine heap sampling
// (mem != ""); the returned function stops the CPU profile.
func startProfiles(cpu, mem string) (stop func(), err error) {
	if mem != "" {
		// Sample allocations finely enough to attribute a few hundred
		// bytes per connection (the default is one sample per 512 KiB).
		runtime.MemProfileRate = 4096
	}
	if cpu == "" {
		return func() {}, nil
	}
	f, err := os.Create(cpu)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes the live heap, after a collection, to file.
func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// applyPerlConfig copies the configuration file's settings into cfg.
func applyPerlConfig(cfg *engine.Config, pc *perlConfig) error {
	if pc.NodeID != nil {
		cfg.NodeID = *pc.NodeID
	}
	if pc.Secret != nil {
		cfg.Secret = *pc.Secret
	}
	if pc.Cert != nil {
		cfg.CertPEM = []byte(*pc.Cert)
	}
	cfg.Binds = nil
	for _, b := range pc.Binds {
		cfg.Binds = append(cfg.Binds, perlBind(b))
	}
	if pc.Binds != nil && len(pc.Binds) == 0 {
		cfg.Binds = []string{"none"}
	}
	cfg.Seeds = pc.Seeds
	if pc.MonitorTimeout != nil {
		cfg.MonitorTimeout = time.Duration(*pc.MonitorTimeout * float64(time.Second))
	}
	cfg.Framings = pc.Framing
	cfg.AuthOffer = pc.AuthOffer
	cfg.AuthAccept = pc.AuthAccept
	if pc.NoDelay != nil {
		var v any
		json.Unmarshal(*pc.NoDelay, &v)
		on := true
		switch v := v.(type) {
		case bool:
			on = v
		case float64:
			on = v != 0
		case string:
			on = v != "" && v != "0"
		}
		cfg.NoDelay = &on
	}
	return nil
}

// seconds converts decimal seconds to a duration (0 stays 0: the default).
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func splitList(s string) []string {
	var l []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			l = append(l, x)
		}
	}
	return l
}

// perlBind turns AnyEvent::MP's bind syntax into a Go listen address:
// host "*" is every address, port "*" (or none) an ephemeral port, and a
// bare number a port on every address.
func perlBind(b string) string {
	if _, err := strconv.Atoi(b); err == nil {
		return ":" + b
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		return b + ":0"
	}
	if host == "*" {
		host = ""
	}
	if port == "*" || port == "" {
		port = "0"
	}
	return net.JoinHostPort(host, port)
}
