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
	"github.com/aemp-go/aemp/services"
)

const nodeUsage = `usage: aemp node [--nodeid ID] [--bind HOST:PORT ...] [--seed HOST:PORT ...]
                 [--secret S | --secret-file F] [--framing cbor,json,storable]
                 [--auth-offer LIST] [--auth-accept LIST] [--cert PEMFILE]
                 [--monitor-timeout SECONDS] [--config FILE [--profile NAME]]
                 [--keepalive-idle S --keepalive-interval S --keepalive-count N]
                 [--group NAME ...] [--generation 1|2] [--max-conns N] [--procs N]
                 [--cpuprofile FILE] [--memprofile FILE] [-v]

Runs an AEMP node (wire-compatible with AnyEvent::MP 1.x and 2.x) serving three ports:
  echo     [REPLYPORT, ARGS...] is answered with ARGS... sent to REPLYPORT
  calecho  [ARGS..., REPLYPORT] is answered with ARGS... sent to REPLYPORT
           (the form of Perl's cal and of aemp cal)
  sink     counts messages; ["report", REPLYPORT] answers
           ["count", N, BYTES, CPUSEC]; ["reset"] zeroes the counts
Other nodes may spawn ports answering like echo (init function aemp::echo).
The node takes part in the mesh of AnyEvent::MP 1.x (Global service) and
2.x (global database): --seed nodes find it and its groups (--group).

Without --bind it listens on 127.0.0.1:4040; --bind none makes it
listener-less. --bind and --seed may be repeated and take comma lists.
The secret comes from --secret, else $AEMP_SECRET, else the config file
(AnyEvent::MP's JSON format and keys: nodeid, secret, cert, binds, seeds,
monitor_timeout, framing_format, auth_offer, auth_accept, nodelay,
profile/parent); flags override the file. With neither a secret nor a
certificate the node refuses to start (exit status 2).

Once listening it prints "READY nodeid=ID binds=HOST:PORT,..." on stdout,
then logs to stderr. Ctrl-C (SIGINT) or SIGTERM closes it gracefully.

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
	monitor, keepIdle, keepIntvl    *float64
	keepCount, maxConns, procs      *int
	generation                      *int
	verbose                         *bool
}

// newNodeFlags defines the flags of "aemp node" on a new flag set.
func newNodeFlags(stderr io.Writer) *nodeFlags {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &nodeFlags{fs: fs}
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
	f.configFile = fs.String("config", "", "AnyEvent::MP configuration `FILE` (JSON)")
	f.profile = fs.String("profile", "", "profile of the config file (default: the host name)")
	f.verbose = fs.Bool("v", false, "log debug messages")
	f.cpuProfile = fs.String("cpuprofile", "", "write a CPU profile to `FILE` until the node stops")
	f.memProfile = fs.String("memprofile", "", "write a heap profile to `FILE` when the node stops (before its connections close)")
	f.keepIdle = fs.Float64("keepalive-idle", 0, "TCP keepalive: `SECONDS` idle before probing (default 30)")
	f.keepIntvl = fs.Float64("keepalive-interval", 0, "TCP keepalive: `SECONDS` between probes (default 10)")
	f.keepCount = fs.Int("keepalive-count", 0, "TCP keepalive: unanswered probes before the link is dead (default 3)")
	f.maxConns = fs.Int("max-conns", 0, "refuse connections beyond `N` (default: the open-file limit less 64)")
	f.procs = fs.Int("procs", 0, "run on at most `N` CPUs (GOMAXPROCS) with one event loop each (default: all)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), nodeUsage)
		fs.PrintDefaults()
	}
	return f
}

// runNode implements "aemp node".
func runNode(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	f := newNodeFlags(stderr)
	if done, code := parseFlags(f.fs, args, stdout); done {
		return code
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "aemp node: unexpected argument %q\n", f.fs.Arg(0))
		return 2
	}
	if *f.procs < 0 {
		fmt.Fprintln(stderr, "aemp node: --procs must be positive")
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
		fmt.Fprintln(stderr, "aemp node:", err)
		return 2
	}
	stopProfile, err := startProfiles(*f.cpuProfile, *f.memProfile)
	if err != nil {
		fmt.Fprintln(stderr, "aemp node:", err)
		return 2
	}
	defer stopProfile()
	n, err := engine.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "aemp node:", err)
		return 2
	}
	if _, err := services.Serve(n); err != nil {
		fmt.Fprintln(stderr, "aemp node:", err)
		return 1
	}
	if err := n.Start(); err != nil {
		fmt.Fprintln(stderr, "aemp node:", err)
		return 1
	}
	for _, g := range f.groups {
		if _, err := n.RegisterGroup(g, n.ID()+"#echo"); err != nil {
			fmt.Fprintln(stderr, "aemp node:", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "READY nodeid=%s binds=%s\n", n.ID(), strings.Join(n.Addrs(), ","))
	waitForSignal()
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

// waitForSignal returns on SIGINT or SIGTERM.
func waitForSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	signal.Stop(sig)
}

// config builds the node's configuration: the config file (if given),
// then the flags over it.
func (f *nodeFlags) config(log *slog.Logger) (engine.Config, error) {
	var cfg engine.Config
	if *f.configFile != "" {
		p := *f.profile
		if p == "" {
			p, _ = os.Hostname()
		}
		pc, err := loadPerlConfig(*f.configFile, p)
		if err != nil {
			return cfg, err
		}
		if err := applyPerlConfig(&cfg, pc); err != nil {
			return cfg, err
		}
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["nodeid"] {
		cfg.NodeID = *f.nodeID
	}
	if len(f.binds) > 0 {
		cfg.Binds = f.binds
	} else if *f.configFile == "" || cfg.Binds == nil {
		cfg.Binds = []string{"127.0.0.1:4040"}
		log.Info("no --bind given: listening on 127.0.0.1:4040")
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
