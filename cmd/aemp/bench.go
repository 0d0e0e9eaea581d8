package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/aemp-go/aemp/bench"
	"github.com/aemp-go/aemp/engine/handshake"
)

const benchUsage = `usage: aemp bench --connect HOST:PORT[,HOST:PORT...] [--target NODEID] --secret S
                  --mode sink|ping|connect|fanout
                  [--count N] [--size BYTES] [--framing LIST] [--auth LIST] [--accept-auth LIST]
                  [--batch N] [--outstanding K] [--sender loop|goroutine] [--send-many]
                  [--inflight K] [--conns C] [--loops L]
                  [--driver engine|links] [--timeout SECONDS] [--procs N] [--json]
                  [--cpuprofile FILE]

A load generator for any AEMP node serving the echo and sink ports (an
aemp-go node, the Perl baseline node, or an AnyEvent::MP node with them).
It is a listener-less node itself, with a random node ID per run.

modes:
  sink     N messages ["sink", PAYLOAD] in batches, each followed by
           ["sink", "report", REPLY]; at most K batches unacknowledged; ends
           when the target's report shows all N delivered
  ping     ["echo", REPLY, "pong", SEQ, PAYLOAD] with K in flight: round trips
           and latency percentiles
  connect  full handshakes per second (connect, authenticate, one echo,
           close) with C concurrent connectors
  fanout   sink from one node to every node listed in --connect (each with
           a node ID of its own) at once: N is the total, shared evenly,
           --batch and --outstanding apply per receiver; the rate is the sum

Many links: sink and ping with --conns C > 1 open C links, each from a
node ID of its own, spread over L event loops of this process (--loops,
default GOMAXPROCS): N is the total over all links, --batch, --outstanding
and --inflight apply per link, the sink's acknowledgements are the target's
count, and the rate is the sum. One link runs through an aemp-go node
(--driver engine); --driver links runs one link the many-links way.

A progress line goes to stderr about once a second; the result is one line
"RESULT key=value ..." on stdout (and a JSON object with --json).
Exit status: 0 success, 1 cannot connect or authenticate, 2 usage error,
3 fewer messages arrived than were sent, 4 timeout.

flags:
`

// runBench implements "aemp bench".
func runBench(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o bench.Options
	fs.StringVar(&o.Connect, "connect", "", "target `HOST:PORT`")
	fs.StringVar(&o.Target, "target", "", "target node `ID` (default: whichever node answers)")
	fs.StringVar(&o.Secret, "secret", os.Getenv("AEMP_SECRET"), "shared `SECRET` (default $AEMP_SECRET)")
	fs.StringVar(&o.Mode, "mode", "sink", "sink, ping, connect or fanout")
	fs.IntVar(&o.Count, "count", 100000, "messages (sink, ping, fanout: the total over all links) or handshakes (connect)")
	fs.IntVar(&o.Size, "size", 20, "payload `BYTES`")
	framings := fs.String("framing", "json,storable", "framings offered, in preference order (json, cbor, storable)")
	auth := fs.String("auth", "", "auth methods to use and advertise, e.g. hmac_md6_64_256: both sides then authenticate with one of them (default: both generations', the target picks)")
	acceptAuth := fs.String("accept-auth", "", "auth methods accepted from the target (default: those of --auth)")
	fs.IntVar(&o.Batch, "batch", 1000, "sink, fanout: messages per report, per link")
	fs.IntVar(&o.Outstanding, "outstanding", 4, "sink, fanout: unacknowledged batches per link")
	fs.StringVar(&o.Sender, "sender", "loop", "sink, fanout (engine driver): where batches after the first window are sent: loop (from the handler of the report answer that allows it, on the event loop) or goroutine (from a goroutine of the load generator)")
	fs.BoolVar(&o.SendMany, "send-many", false, "sink, fanout (engine driver): hand each batch to Dest.SendMany (one lock and one wake of the event loop per batch) instead of a Dest.Send per message")
	fs.IntVar(&o.Inflight, "inflight", 1, "ping: round trips in flight per link")
	fs.IntVar(&o.Conns, "conns", 0, "connect: concurrent connectors (default 16); sink, ping: links, each from its own node ID (default 1)")
	fs.IntVar(&o.Loops, "loops", 0, "event loops of the many-links driver and of fanout's node (default GOMAXPROCS)")
	fs.StringVar(&o.Driver, "driver", "", "sink, ping: engine (one link through an aemp-go node) or links (the many-links driver); default engine for one link, links for more")
	timeout := fs.Float64("timeout", 60, "give up after `SECONDS`")
	asJSON := fs.Bool("json", false, "also print the result as one JSON object")
	procs := fs.Int("procs", 0, "run on at most `N` CPUs (GOMAXPROCS; default: all)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (this process, the sender) to `FILE`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	if done, code := parseFlags(fs, args, stdout); done {
		return code
	}
	usageErr := usageExit(fs, stderr, "aemp bench")
	if msg := targetUsage(fs, o.Connect, o.Secret); msg != "" {
		return usageErr(msg)
	}
	switch {
	case o.Mode != "sink" && o.Mode != "ping" && o.Mode != "connect" && o.Mode != "fanout":
		return usageErr("--mode must be sink, ping, connect or fanout")
	case o.Count < 1 || o.Size < 0 || o.Batch < 1 || o.Outstanding < 1 || o.Inflight < 1 || o.Conns < 0 || o.Loops < 0 || *timeout <= 0 || *procs < 0:
		return usageErr("counts must be positive")
	case o.Driver != "" && o.Driver != "engine" && o.Driver != "links":
		return usageErr("--driver must be engine or links")
	case o.Driver == "engine" && o.Conns > 1:
		return usageErr("--driver engine runs one link: --conns 1")
	case o.Sender != "loop" && o.Sender != "goroutine":
		return usageErr("--sender must be loop or goroutine")
	case o.SendMany && (o.Mode != "sink" && o.Mode != "fanout" || o.Driver == "links" || o.Mode == "sink" && o.Conns > 1):
		return usageErr("--send-many is for sink and fanout through the engine driver (one link)")
	case (o.Mode == "sink" || o.Mode == "ping") && o.Count < o.Conns:
		return usageErr("--count must be at least --conns (every link sends)")
	}
	if addrs := splitList(o.Connect); o.Mode == "fanout" {
		o.Targets, o.Connect = addrs, ""
		if o.Target != "" {
			return usageErr("fanout: --target does not apply (each receiver has its own node ID)")
		}
	} else if len(addrs) > 1 {
		return usageErr("one --connect address (a list is for --mode fanout)")
	}
	if o.Conns == 0 {
		o.Conns = 1
		if o.Mode == "connect" {
			o.Conns = 16
		}
	}
	setProcs(*procs)
	o.Framings = splitList(*framings)
	if *auth != "" {
		o.Auth = splitList(*auth)
	}
	if *acceptAuth != "" {
		o.AcceptAuth = splitList(*acceptAuth)
	}
	if o.Auth != nil || o.AcceptAuth != nil {
		if _, err := handshake.NewConfig(handshake.Options{NodeID: "bench", Secret: []byte(o.Secret), AuthOffer: o.Auth, AuthAccept: o.AcceptAuth}); err != nil {
			return usageErr("--auth, --accept-auth: " + err.Error())
		}
	}
	o.Timeout = time.Duration(*timeout * float64(time.Second))
	o.Progress = stderr
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			o.Terminal = true
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "aemp bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "aemp bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(o)
	if res != nil {
		printResult(stdout, res, *asJSON)
	}
	if err != nil {
		fmt.Fprintln(stderr, "aemp bench:", err)
	}
	return bench.ExitStatus(err)
}

// printResult writes the RESULT line and, with asJSON, the JSON object.
func printResult(w io.Writer, r *bench.Result, asJSON bool) {
	var b strings.Builder
	b.WriteString("RESULT")
	obj := map[string]any{}
	for _, f := range r.Fields {
		fmt.Fprintf(&b, " %s=%v", f.Key, plain(f.Value))
		obj[f.Key] = f.Value
	}
	fmt.Fprintln(w, b.String())
	if asJSON {
		j, _ := json.Marshal(obj)
		fmt.Fprintln(w, string(j))
	}
}

// plain formats numbers without exponents or units.
func plain(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		if v == "" {
			return "-"
		}
		return v
	}
	return fmt.Sprint(v)
}
