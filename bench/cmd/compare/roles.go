package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aemp-go/aemp/bench"
)

// The child roles: this program re-executes itself for the receivers and
// senders that are not `aemp` or Perl, so that every sender and receiver
// is a process of its own, as in the other configurations.
//
//	compare std-node --listen ADDR --nodeid ID --secret S
//	compare ceiling-recv --listen ADDR
//	compare ceiling-send --connect ADDR --mode sink|ping --framing F --size B --count N
//	compare conn-ceiling-recv --listen ADDR
//	compare conn-floor-recv --listen ADDR
//	compare conn-ceiling-send --connect ADDR --count N --conns C
//	compare spin   (run under nice -n 19: keeps idle CPUs from halting)
//
// Receivers print "READY ADDR" and run until SIGINT/SIGTERM; the sender
// prints one RESULT line like `aemp bench`.
func runRole(role string, args []string) int {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	nodeID := fs.String("nodeid", "target", "node ID (std-node)")
	secret := fs.String("secret", "", "shared secret (std-node)")
	var co bench.CeilingOptions
	fs.StringVar(&co.Connect, "connect", "", "ceiling receiver address (ceiling-send)")
	fs.StringVar(&co.Mode, "mode", "sink", "sink or ping (ceiling-send)")
	fs.StringVar(&co.Framing, "framing", "json", "whose frames (ceiling-send)")
	fs.IntVar(&co.Size, "size", 20, "payload bytes (ceiling-send)")
	fs.IntVar(&co.Count, "count", 100000, "frames or round trips (ceiling-send), connections (conn-ceiling-send)")
	conns := fs.Int("conns", 16, "concurrent connections (conn-ceiling-send)")
	timeout := fs.Float64("timeout", 120, "seconds (ceiling-send)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch role {
	case "std-node":
		s, err := bench.NewStdNode(*nodeID, *secret)
		if err != nil {
			fmt.Fprintln(os.Stderr, "std-node:", err)
			return 2
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			fmt.Fprintln(os.Stderr, "std-node:", err)
			return 1
		}
		go s.Serve(ln)
		fmt.Printf("READY %s\n", ln.Addr())
		waitSignal()
		s.Close()
		return 0
	case "ceiling-recv":
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ceiling-recv:", err)
			return 1
		}
		go bench.ServeCeiling(ln)
		fmt.Printf("READY %s\n", ln.Addr())
		waitSignal()
		ln.Close()
		return 0
	case "conn-ceiling-recv":
		s, err := bench.ListenConnCeiling(*listen)
		if err != nil {
			fmt.Fprintln(os.Stderr, "conn-ceiling-recv:", err)
			return 1
		}
		go s.Serve()
		fmt.Printf("READY %s\n", s.Addr())
		waitSignal()
		s.Close()
		return 0
	case "conn-floor-recv":
		s, err := bench.ListenConnFloor(*listen, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "conn-floor-recv:", err)
			return 1
		}
		fmt.Printf("READY %s\n", s.Addr())
		waitSignal()
		s.Close()
		return 0
	case "conn-ceiling-send":
		res, err := bench.RunConnCeiling(co.Connect, co.Count, *conns, time.Duration(*timeout*float64(time.Second)))
		return printResult(role, res, err)
	case "spin":
		// A busy loop per CPU, started under nice 19 by the comparison
		// during the ping groups: it keeps the virtual CPUs from halting
		// between messages (waking a halted vCPU costs tens of µs on a
		// VM) and yields to any real work at once.
		for range runtime.NumCPU() {
			go func() {
				for {
				}
			}()
		}
		fmt.Println("READY spin")
		waitSignal()
		return 0
	case "ceiling-send":
		co.Timeout = time.Duration(*timeout * float64(time.Second))
		res, err := bench.RunCeiling(co)
		return printResult(role, res, err)
	}
	fmt.Fprintf(os.Stderr, "compare: unknown role %q\n", role)
	return 2
}

// printResult prints a sender's RESULT line and returns its exit status.
func printResult(role string, res *bench.Result, err error) int {
	if res != nil {
		var b strings.Builder
		b.WriteString("RESULT")
		for _, f := range res.Fields {
			fmt.Fprintf(&b, " %s=%s", f.Key, plain(f.Value))
		}
		fmt.Println(b.String())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, role+":", err)
		return bench.ExitStatus(err)
	}
	return 0
}

func waitSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

// plain formats a result value as `aemp bench` does.
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
