// Command aemp is the aemp-go command line: an AEMP node, a load generator
// and MD6 checksums, as subcommands.
package main

import (
	"fmt"
	"io"
	"os"
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
	{"md6sum", "print MD6 checksums of files", runMD6Sum},
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
	fmt.Fprintln(w, "\n'aemp COMMAND --help' describes a command's flags.")
}
