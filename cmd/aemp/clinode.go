package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aemp-go/aemp/engine"
)

// protoFlags are the flags of the protocol commands (snd, cal, mon,
// trace): they override what the configuration file gives the
// short-lived node these commands run.
type protoFlags struct {
	fs                  *flag.FlagSet
	binds, seeds        listFlag
	configFile, profile *string
	secret              *string
	timeout             *float64 // cal only
	verbose             *bool
}

// newProtoFlags defines the flags of protocol command name.
func newProtoFlags(name string, stderr io.Writer) *protoFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &protoFlags{fs: fs}
	f.configFile = fs.String("config", "", "configuration `FILE` (default $PERL_ANYEVENT_MP_RC, else ~/.perl-anyevent-mp)")
	f.profile = fs.String("profile", "aemp", "profile of the configuration file")
	fs.Var(&f.seeds, "seed", "connect to `HOST:PORT` (repeatable, comma lists; replaces the file's seeds)")
	fs.Var(&f.binds, "bind", "listen on `HOST:PORT` (repeatable; default: the file's binds, else no listener)")
	f.secret = fs.String("secret", "", "shared `SECRET` (else $AEMP_SECRET, else the file's)")
	if name == "cal" {
		f.timeout = fs.Float64("timeout", 0, "give up (exit status 1) after `SECONDS` without a reply (default: wait, as Perl does)")
	}
	f.verbose = fs.Bool("v", false, "log the node's connections to stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), protoUsage)
		fs.PrintDefaults()
	}
	return f
}

// config builds the configuration of the short-lived node: the file's
// profile (aemp by default) with node ID anon/ below it, as Perl's aemp
// configures its node, then the flags.
func (f *protoFlags) config() (engine.Config, error) {
	var cfg engine.Config
	path := *f.configFile
	if path == "" {
		path = perlConfigPath()
	}
	pc, err := loadPerlConfigArgs(path, *f.profile, map[string]any{"nodeid": "anon/"})
	if err != nil {
		return cfg, err
	}
	if err := applyPerlConfig(&cfg, pc); err != nil {
		return cfg, err
	}
	if len(cfg.Binds) == 1 && cfg.Binds[0] == "none" {
		cfg.Binds = nil
	}
	if len(f.binds) > 0 {
		cfg.Binds = f.binds
	}
	if len(f.seeds) > 0 {
		cfg.Seeds = f.seeds
	}
	switch {
	case *f.secret != "":
		cfg.Secret = *f.secret
	case os.Getenv("AEMP_SECRET") != "":
		cfg.Secret = os.Getenv("AEMP_SECRET")
	}
	if cfg.Secret == "" && len(cfg.CertPEM) == 0 {
		return cfg, errors.New("no secret configured: run aemp setsecret SECRET (or give --secret or $AEMP_SECRET)")
	}
	return cfg, nil
}

// cliNode is the short-lived anonymous node a protocol command runs,
// with what it learnt about the other nodes, to explain a failure.
type cliNode struct {
	*engine.Node
	seeds []string

	mu       sync.Mutex
	auth     map[string]string // node ID -> auth method of its connection, while up
	failures map[string]string // node ID or address -> why the last attempt failed
}

// startCLINode starts the node of a protocol command.
func startCLINode(f *protoFlags, stderr io.Writer) (*cliNode, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	h := slog.Handler(slog.DiscardHandler)
	if *f.verbose {
		h = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	cfg.Logger = slog.New(h)
	c := &cliNode{seeds: cfg.Seeds, auth: map[string]string{}, failures: map[string]string{}}
	cfg.OnNodeEvent = c.event
	n, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	c.Node = n
	if err := n.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// event records node events; it runs on an event loop.
func (c *cliNode) event(ev engine.NodeEvent) {
	c.mu.Lock()
	switch {
	case ev.Up:
		c.auth[ev.Node] = ev.Auth
		delete(c.failures, ev.Node)
	case ev.Attempt:
		c.failures[ev.Node] = ev.Reason
		if ev.Addr != "" {
			c.failures[ev.Addr] = ev.Reason
		}
	default:
		delete(c.auth, ev.Node)
		c.failures[ev.Node] = ev.Reason
	}
	c.mu.Unlock()
}

// close shuts the node down, giving queued messages a moment to leave.
func (c *cliNode) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.Close(ctx)
}

// authOf returns the auth method of node's connection, if it is up.
func (c *cliNode) authOf(node string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.auth[node]
	return a, ok
}

// isUp reports whether node has a connection.
func (c *cliNode) isUp(node string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.auth[node]
	return ok
}

// whyUnreachable explains why node has no connection: how each seed
// fared (a seed that was never reached is probed once more now), or that
// there are none.
func (c *cliNode) whyUnreachable(node string) string {
	c.mu.Lock()
	nodeFail := c.failures[node]
	var upNodes []string
	for id := range c.auth {
		upNodes = append(upNodes, id)
	}
	fails := make(map[string]string, len(c.seeds))
	for _, s := range c.seeds {
		fails[s] = c.failures[s]
	}
	c.mu.Unlock()
	slices.Sort(upNodes)
	var parts []string
	if nodeFail != "" && !slices.Contains(slices.Collect(maps.Values(fails)), nodeFail) {
		parts = append(parts, nodeFail)
	}
	if len(c.seeds) == 0 {
		return strings.Join(append(parts, "no seeds configured (aemp setseeds HOST:PORT, or --seed)"), "; ")
	}
	for _, s := range c.seeds {
		switch {
		case fails[s] != "":
			parts = append(parts, "seed "+s+": "+fails[s])
		case len(upNodes) == 0:
			conn, err := net.DialTimeout("tcp", s, time.Second)
			if err != nil {
				parts = append(parts, "seed "+s+": "+dialError(err))
			} else {
				conn.Close()
				parts = append(parts, "seed "+s+": reachable, but no handshake completed")
			}
		}
	}
	if len(upNodes) > 0 {
		parts = append(parts, "connected to "+strings.Join(upNodes, ", ")+", which did not lead to "+node)
	}
	return strings.Join(parts, "; ")
}

// dialError shortens a dial error to its cause ("Connection refused").
func dialError(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var se *os.SyscallError
		if errors.As(op.Err, &se) {
			return se.Err.Error()
		}
		return op.Err.Error()
	}
	return err.Error()
}
