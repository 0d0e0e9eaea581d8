// Command aemp is the aemp-go command line: an AEMP node, a load generator
// and MD6 checksums, as subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/aemp-go/aemp/config"
)

// command is one subcommand: it gets its arguments (without its own name)
// and returns the process exit status.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = []command{
	{"node", "run an AEMP node", runNode},
	{"bench", "load-test an AEMP node (sink, ping, connect)", runBench},
	{"fuzz", "fuzz an AEMP node over the network", runFuzz},
	{"md6sum", "print MD6 checksums of files", runMD6Sum},
	{"config", "edit the configuration file: gensecret, setseeds, profile, showconfig, ... (aemp config --help)", runConfig},
	{"snd", "send a message to a port and confirm its delivery (Perl's aemp snd)", runSnd},
	{"cal", "call a port and print the reply (Perl's aemp cal)", runCal},
	{"mon", "wait until a port dies and print the reason (Perl's aemp mon)", runMon},
	{"trace", "print the mesh as seen from a node (Perl's aemp trace)", runTrace},
	{"run", "run a node configured by key/value pairs (Perl's aemp run)", runRun},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	if notOffered[args[0]] {
		return runNotOffered(args[0], stderr)
	}
	if code, ok := runJSONCommandLine(args, stdout, stderr); ok {
		return code
	}
	if isConfigCommand(args) {
		return runConfig(args, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "aemp: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: aemp COMMAND [ARGUMENTS]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nThe configuration commands of Perl's aemp (setsecret, setseeds, profile,")
	fmt.Fprintln(w, "showconfig, ...) may also be given without 'config'. eval, shell and")
	fmt.Fprintln(w, "restart, which run Perl code on a node, are not offered.")
	fmt.Fprintln(w, "\n'aemp COMMAND --help' describes a command's flags.")
}

// runJSONCommandLine runs a protocol command or run given as one JSON
// array holding the whole command line, as Perl's aemp takes it
// (aemp '["cal","N#echo",1]'): the values are used as they are.
func runJSONCommandLine(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) != 1 || !strings.HasPrefix(args[0], "[") {
		return 0, false
	}
	v, err := config.Decode([]byte(args[0]), false)
	a, isList := v.([]any)
	if err != nil || !isList || len(a) == 0 {
		return 0, false
	}
	name, _ := a[0].(string)
	var toks []protoArg
	for _, x := range a[1:] {
		raw, _ := config.PerlString(x)
		toks = append(toks, protoArg{raw: raw, val: x, decoded: true})
	}
	switch {
	case name == "snd" || name == "cal" || name == "mon" || name == "trace":
		return runProto(name, toks, stdout, stderr), true
	case name == "run":
		return runRunArgs(toks, stdout, stderr), true
	case notOffered[name]:
		return runNotOffered(name, stderr), true
	}
	return 0, false
}

// setProcs limits the process to n CPUs (GOMAXPROCS) when n > 0. On a
// machine shared with the peer it talks to, fewer Ps can mean lower
// latency: gnet yields (runtime.Gosched) after each burst of events, and
// with an idle P that wakes another thread, which then competes with the
// peer for the CPUs.
func setProcs(n int) {
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
}

// parseFlags parses args with fs. --help prints the usage once, on stdout
// (done, status 0); a bad flag prints the error and the usage on fs's
// output (done, status 2).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (done bool, code int) {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package would print the usage itself
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return true, 0
	case err != nil:
		fmt.Fprintln(out, err)
		fs.Usage()
		return true, 2
	}
	return false, 0
}

// usageExit returns a function that prints "CMD: MSG" and the flag
// set's usage on stderr and gives exit status 2.
func usageExit(fs *flag.FlagSet, stderr io.Writer, cmd string) func(msg string) int {
	return func(msg string) int {
		fmt.Fprintf(stderr, "%s: %s\n", cmd, msg)
		fs.Usage()
		return 2
	}
}

// targetUsage checks what every command that connects to a node needs (no
// stray argument, --connect, a secret): the problem, or "".
func targetUsage(fs *flag.FlagSet, connect, secret string) string {
	switch {
	case fs.NArg() > 0:
		return "unexpected argument " + strconv.Quote(fs.Arg(0))
	case connect == "":
		return "--connect is required"
	case secret == "":
		return "--secret (or $AEMP_SECRET) is required"
	}
	return ""
}
