package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aemp-go/aemp/nodefuzz"
)

const fuzzUsage = `usage: aemp fuzz --connect HOST:PORT --secret S [--target NODEID] [--duration D | --cases N] [--seed N]
                 [--framing LIST] [--auth LIST] [--pid PID] [--out DIR] [--json]
       aemp fuzz --replay FILE --connect HOST:PORT --secret S [--pid PID]

A black-box fuzzer for any AEMP node (aemp-go, AnyEvent::MP 1.x and 2.x):
each case opens a connection and sends mangled greeting lines, auth lines
or data-phase frames (json, storable, cbor); after it, the fuzzed link must
answer time or be closed (else dead-link), a fresh authenticated probe must
complete a time round trip (else hang, or crash when it cannot connect),
and with --pid the node's RSS must not grow beyond a limit (else memory).
It never sends eval or a node-port request outside a fixed list, never
kills the node port and spawns nothing (README.md, "Fuzzing other nodes").

A progress line goes to stderr once a second; the result is one line
"RESULT key=value ..." on stdout (and a JSON object with --json). Each
finding (one per kind and phase) is saved in --out as a JSON file that
--replay runs again.
Exit status: 0 no finding, 3 findings (with --replay: reproduced),
1 cannot connect or authenticate, 2 usage error.

flags:
`

// runFuzz implements "aemp fuzz".
func runFuzz(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o nodefuzz.Options
	fs.StringVar(&o.Connect, "connect", "", "target `HOST:PORT`")
	fs.StringVar(&o.Target, "target", "", "the target's node `ID` (default: whichever node answers)")
	fs.StringVar(&o.Secret, "secret", os.Getenv("AEMP_SECRET"), "shared `SECRET` (default $AEMP_SECRET)")
	duration := fs.String("duration", "", "fuzz for `D` (e.g. 10m, or seconds); default 1m unless --cases is given")
	fs.IntVar(&o.Cases, "cases", 0, "run `N` cases (with --duration: whichever ends first)")
	seed := fs.String("seed", "", "seed `N` of the mutation decisions (default: from the clock; printed in RESULT)")
	framings := fs.String("framing", "json,storable,cbor", "framings to fuzz, those the target also accepts")
	auth := fs.String("auth", "", "auth methods we authenticate with, e.g. hmac_md6_64_256 (default: the hmac methods of both generations; the target picks)")
	fs.IntVar(&o.PID, "pid", 0, "the target's process `PID`: watch its RSS")
	fs.StringVar(&o.OutDir, "out", "fuzz-findings", "`DIR` for the finding files")
	replay := fs.String("replay", "", "run the saved finding `FILE` again")
	asJSON := fs.Bool("json", false, "also print the result as one JSON object")
	fs.DurationVar(&o.ProbeTimeout, "probe-timeout", nodefuzz.DefaultProbeTimeout, "bound of the probe's time round trip (else hang)")
	fs.DurationVar(&o.LinkTimeout, "link-timeout", nodefuzz.DefaultLinkTimeout, "bound for the fuzzed link to answer time or be closed (else dead-link)")
	fs.DurationVar(&o.CrashWait, "crash-wait", nodefuzz.DefaultCrashWait, "after a crash, how long to wait for the target to accept again (else stop)")
	fs.DurationVar(&o.RSSDelay, "rss-delay", nodefuzz.DefaultRSSDelay, "with --pid: when the RSS is compared after a case")
	rssLimit := fs.Int64("rss-limit", nodefuzz.DefaultRSSLimit>>20, "with --pid: allowed RSS growth in `MiB` (else memory)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), fuzzUsage)
		fs.PrintDefaults()
	}
	if done, code := parseFlags(fs, args, stdout); done {
		return code
	}
	usageErr := usageExit(fs, stderr, "aemp fuzz")
	if msg := targetUsage(fs, o.Connect, o.Secret); msg != "" {
		return usageErr(msg)
	}
	switch {
	case o.Cases < 0 || o.PID < 0 || *rssLimit <= 0:
		return usageErr("counts must be positive")
	case o.ProbeTimeout <= 0 || o.LinkTimeout <= 0 || o.CrashWait <= 0 || o.RSSDelay <= 0:
		return usageErr("the bounds must be positive")
	}
	if *duration != "" {
		d, err := parseDuration(*duration)
		if err != nil || d <= 0 {
			return usageErr("--duration: want a positive duration such as 10m or 600")
		}
		o.Duration = d
	}
	if *seed != "" {
		s, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return usageErr("--seed: want a number")
		}
		o.Seed = s
	} else {
		o.Seed = uint64(time.Now().UnixNano()) % 1_000_000_000
	}
	o.Framings = splitList(*framings)
	for _, f := range o.Framings {
		if f != "json" && f != "storable" && f != "cbor" {
			return usageErr("--framing: unknown framing " + strconv.Quote(f))
		}
	}
	if *auth != "" {
		o.Auth = splitList(*auth)
	}
	o.RSSLimit = *rssLimit << 20
	o.Progress = stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *replay != "" {
		return replayFinding(ctx, o, *replay, stdout, stderr, *asJSON)
	}
	res, err := nodefuzz.Run(ctx, o)
	if res != nil {
		printFuzzResult(stdout, res.Fields(), *asJSON)
		for i, f := range res.Findings {
			fmt.Fprintf(stderr, "aemp fuzz: %s in phase %s (case %d): %s\n  %s\n  saved: %s\n", f.Kind, f.Phase, f.Case, f.Detail, f.What, res.Files[i])
		}
		if res.Stopped != "" {
			fmt.Fprintln(stderr, "aemp fuzz: stopped:", res.Stopped)
		}
	}
	switch {
	case errors.Is(err, nodefuzz.ErrConnect):
		fmt.Fprintln(stderr, "aemp fuzz:", err)
		return 1
	case err != nil && !errors.Is(err, nodefuzz.ErrStopped):
		fmt.Fprintln(stderr, "aemp fuzz:", err)
		return 1
	case res != nil && len(res.Findings) > 0:
		return 3
	}
	return 0
}

func replayFinding(ctx context.Context, o nodefuzz.Options, file string, stdout, stderr io.Writer, asJSON bool) int {
	rr, err := nodefuzz.Replay(ctx, o, file)
	if err != nil {
		fmt.Fprintln(stderr, "aemp fuzz:", err)
		if errors.Is(err, nodefuzz.ErrConnect) {
			return 1
		}
		return 2
	}
	seen := "-"
	if len(rr.Kinds) > 0 {
		seen = strings.Join(rr.Kinds, ",")
	}
	rep := 0
	if rr.Reproduced {
		rep = 1
	}
	printFuzzResult(stdout, []nodefuzz.Field{{Key: "kind", Value: rr.Finding.Kind}, {Key: "phase", Value: string(rr.Finding.Phase)},
		{Key: "reproduced", Value: rep}, {Key: "seen", Value: seen}, {Key: "elapsed", Value: rr.Elapsed.Seconds()}}, asJSON)
	for i, k := range rr.Kinds {
		fmt.Fprintf(stderr, "aemp fuzz: replay: %s: %s\n", k, rr.Details[i])
	}
	if rr.Reproduced {
		return 3
	}
	return 0
}

// printFuzzResult writes the RESULT line and, with asJSON, the JSON object.
func printFuzzResult(w io.Writer, fields []nodefuzz.Field, asJSON bool) {
	var b strings.Builder
	b.WriteString("RESULT")
	obj := map[string]any{}
	for _, f := range fields {
		fmt.Fprintf(&b, " %s=%v", f.Key, plain(f.Value))
		obj[f.Key] = f.Value
	}
	fmt.Fprintln(w, b.String())
	if asJSON {
		j, _ := json.Marshal(obj)
		fmt.Fprintln(w, string(j))
	}
}

// parseDuration takes a Go duration (10m, 90s) or a number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}
