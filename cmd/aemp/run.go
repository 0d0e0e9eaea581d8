package main

import (
	"fmt"
	"io"

	"github.com/aemp-go/aemp/config"
)

const runUsage = `usage: aemp run [PROFILE] [KEY VALUE]...

Perl's aemp run: runs a node configured as AnyEvent::MP's configure
(KEY VALUE...) configures it: "profile NAME" picks the configuration
file's profile (default: the host name; an odd number of arguments makes
the first one the profile), the other pairs are settings (nodeid, binds,
seeds, secret, ...) that the file's settings override, as in
AnyEvent::MP 1.30. A value that starts with [, { or " is JSON
(aemp run profile seed binds '["127.0.0.1:4040"]'). The node is the one
aemp node runs (its ports, READY line, signals and exit status: aemp
node --help).
`

// runRun implements "aemp run".
func runRun(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, runUsage)
			return 0
		}
	}
	toks := make([]protoArg, len(args))
	for i, a := range args {
		toks[i] = protoArg{raw: a, val: a}
		if a != "" && (a[0] == '[' || a[0] == '{' || a[0] == '"') {
			v, err := config.Decode([]byte(a), false)
			if err != nil {
				fmt.Fprintf(stderr, "aemp run: %s: %v\n", a, err)
				return 2
			}
			toks[i].val = v
		}
		toks[i].decoded = true
	}
	return runRunArgs(toks, stdout, stderr)
}

// runRunArgs runs "aemp run" with decoded arguments.
func runRunArgs(toks []protoArg, stdout, stderr io.Writer) int {
	f, err := runFlags(toks, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "aemp run:", err)
		return 2
	}
	return runNodeFlags(f, nil, stdout, stderr)
}

// runFlags turns configure's key/value pairs into the node's settings:
// the profile, and the pairs put below the file's settings.
func runFlags(toks []protoArg, stderr io.Writer) (*nodeFlags, error) {
	vals := make([]any, len(toks))
	for i, t := range toks {
		vals[i] = t.val
	}
	if len(vals)%2 == 1 {
		vals = append([]any{"profile"}, vals...)
	}
	kv := map[string]any{}
	for i := 0; i < len(vals); i += 2 {
		k, ok := config.PerlString(vals[i])
		if !ok {
			return nil, fmt.Errorf("a key must be a string, not %s", perlString(wireValue(vals[i])))
		}
		kv[k] = vals[i+1]
	}
	f := newNodeFlags(stderr)
	f.cmd = "run"
	if p, ok := kv["profile"]; ok {
		delete(kv, "profile")
		*f.profile, _ = config.PerlString(p)
	}
	f.configureArgs = kv
	return f, nil
}
