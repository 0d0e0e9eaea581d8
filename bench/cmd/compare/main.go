// Command compare runs the benchmark comparison of aemp-go (`make
// bench-compare`) on this machine and writes bench/RESULTS.md, with the
// plot bench/results.svg and every run in bench/results.json.
//
// Configurations (sender->receiver, each a process of its own, over
// 127.0.0.1):
//
//	Go->Go      aemp bench -> aemp node
//	Perl->Perl  bench/perl/aemp-send.pl -> bench/perl/aemp-peer.pl --listen
//	Go->Perl    aemp bench -> aemp-peer.pl
//	Perl->Go    aemp-send.pl -> aemp node
//	Perl(batched)->Perl  aemp-send.pl --writes batch -> aemp-peer.pl (sink)
//	Go->Go, 1 CPU each   aemp bench --procs 1 -> aemp node --procs 1 (ping, sink 20 B)
//	Go->Go, SendMany     aemp bench --send-many -> aemp node (sink 20 B: each
//	                     batch handed to Dest.SendMany at once)
//	Go->Go, goroutine sender  aemp bench --sender goroutine -> aemp node
//	                     (sink 20 B: every batch sent from a goroutine)
//	Go->std     aemp bench -> goroutine-per-connection net + encoding/json
//	            node (bench.StdNode; json only)
//	ceiling     pre-encoded frames in 64 KiB writes -> a receiver that only
//	            counts bytes (ping: one frame echoed back by a byte pump)
//	NATS        nats bench pub -> nats-server -> nats bench sub (NATS=1)
//	Go->Go, 32 links     aemp bench --conns 32 -> aemp node (sink 20 B: fan-in)
//	Go->Go, 1 link, links driver   aemp bench --driver links (its reference)
//	Go->Go, 1,000 links  aemp bench --conns 1000 -> aemp node (ping 20 B)
//	Go->32 Go nodes      aemp bench --mode fanout -> 32 aemp node --procs 1
//	                     (sink 20 B, the first framing)
//
// for json, storable and cbor framing, 20 B and 1 KiB payloads (64 KiB:
// Go->Go and the ceiling, sink), sink and ping
// (inflight 1; ping twice: as the machine is, and with a nice-19 busy loop
// keeping the vCPUs awake), each repeated (3 times; QUICK=1: once, shorter). Per mode,
// framing and size, each receiver is started once, every configuration
// sizes its runs by a short calibration run to last about -seconds, and
// the repetitions go round-robin across the configurations; the report
// has the median and min-max. Then handshakes per second (aemp bench
// --mode connect) with the connection ceiling beside them (the same
// connections and bytes between two epoll loops, bench.RunConnCeiling),
// and against the Perl peer (and -perl-node), the memory of 10,000 idle
// authenticated connections (this process is the client), the -benchmem
// figures of the hot-path benchmarks, and with -profile DIR CPU profiles
// of both ends of a one-link sink per framing. The report starts with
// the goals, met or not.
//
// Usage: go run ./bench/cmd/compare [flags]   (from the repository)
//
//	go run ./bench/cmd/compare -from bench/results.json   writes the
//	report again from a saved run, without measuring
//	go run ./bench/cmd/compare -perl-node HOST:PORT [-perl-node-id ID]
//	[-perl-node-secret S]   measures an external Perl node (a real
//	AnyEvent::MP node serving echo and sink) as the Perl receiver
//
// Environment: QUICK=1, NATS=1, REPS=N, ONLY=REGEXP (cells whose name
// matches, e.g. "sink json 20B"), FRAMINGS=LIST (default json,storable,cbor;
// QUICK: json), PROFILE=DIR, as the flags of the same names.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aemp-go/aemp/bench"
)

const secret = "bench-compare-secret"

// config is one sender->receiver pairing.
type config struct {
	Name     string
	Sender   string // go, perl, ceiling, nats
	Receiver string // go, perl, std, ceiling, nats
	// BatchWrites makes the Perl sender hand each batch to
	// AnyEvent::Handle as one string (aemp-send.pl --writes batch): sink
	// only, it shows what the Perl receiver manages when the sender's
	// syscalls are not the limit.
	BatchWrites bool
	// Procs runs the Go sender and receiver with --procs (GOMAXPROCS);
	// 0: all CPUs. Ping only: see the report's note on it.
	Procs int
	// Conns is the Go sender's links (aemp bench --conns), each from a
	// node ID of its own; 0: one link through an aemp-go node.
	Conns int
	// Driver is the Go sender's --driver ("": its default).
	Driver string
	// SendMany makes the Go sender hand each batch to Dest.SendMany
	// (aemp bench --send-many) instead of a Dest.Send per message.
	SendMany bool
	// GoSender is the Go sender's --sender ("": its default, loop).
	GoSender string
	// Fanout is the number of receiving aemp nodes of a fan-out (the
	// sender runs --mode fanout to all of them); 0: one receiver.
	Fanout int
}

// serverKey tells receivers apart within a group: configurations with
// the same key share one receiver process.
func (c config) serverKey() string {
	return c.Receiver + "/" + strconv.Itoa(c.Procs) + "/" + strconv.Itoa(c.Fanout)
}

// The configurations of many links (issue: fan-in, many links, fan-out).
const (
	fanInConns    = 32
	manyLinks     = 1000
	fanOutNodes   = 32
	largeSize     = 64 << 10
	cfgFanIn      = "Go->Go, 32 links"
	cfgLinksOne   = "Go->Go, 1 link, links driver"
	cfgManyLinks  = "Go->Go, 1,000 links"
	cfgFanOut     = "Go->32 Go nodes"
	cfgGoGo       = "Go->Go"
	cfgGoGo1CPU   = "Go->Go, 1 CPU each"
	cfgGoGoMany   = "Go->Go, SendMany"
	cfgGoGoGor    = "Go->Go, goroutine sender"
	cfgPerlPerl   = "Perl->Perl"
	cfgCeiling    = "ceiling"
	handshakeConc = 16
)

var allConfigs = []config{
	{Name: cfgGoGo, Sender: "go", Receiver: "go"},
	{Name: cfgGoGo1CPU, Sender: "go", Receiver: "go", Procs: 1},
	{Name: cfgGoGoMany, Sender: "go", Receiver: "go", SendMany: true},
	{Name: cfgGoGoGor, Sender: "go", Receiver: "go", GoSender: "goroutine"},
	{Name: cfgPerlPerl, Sender: "perl", Receiver: "perl"},
	{Name: "Go->Perl", Sender: "go", Receiver: "perl"},
	{Name: "Perl->Go", Sender: "perl", Receiver: "go"},
	{Name: "Perl(batched)->Perl", Sender: "perl", Receiver: "perl", BatchWrites: true},
	{Name: "Go->std", Sender: "go", Receiver: "std"},
	{Name: cfgCeiling, Sender: "ceiling", Receiver: "ceiling"},
	{Name: cfgFanIn, Sender: "go", Receiver: "go", Conns: fanInConns},
	{Name: cfgLinksOne, Sender: "go", Receiver: "go", Conns: 1, Driver: "links"},
	{Name: cfgManyLinks, Sender: "go", Receiver: "go", Conns: manyLinks},
	{Name: cfgFanOut, Sender: "go", Receiver: "go-fanout", Fanout: fanOutNodes},
}

var natsConfig = config{Name: "NATS", Sender: "nats", Receiver: "nats"}

// skip says why configuration cf has no cell at mode, framing f (the
// first of the run's framings: first) and size, or "" when it has one.
func skip(cf config, mode, f, first string, size int) string {
	switch {
	case cf.Sender == "nats" && f != first:
		return "NATS has no framing: listed once"
	case cf.BatchWrites && mode != "sink":
		return "one message in flight: nothing to batch"
	case cf.Procs > 0 && !isPing(mode) && (mode != "sink" || size != 20):
		return "ping and sink 20 B only"
	case (cf.SendMany || cf.GoSender != "") && (mode != "sink" || size != 20):
		return "sink 20 B only"
	case cf.Sender == "nats" && mode == "ping-awake":
		return "NATS: measured once per mode, without the busy loop"
	case size == largeSize && cf.Name != cfgGoGo && cf.Name != cfgCeiling:
		return "64 KiB: Go->Go and the ceiling only"
	case size == largeSize && mode != "sink":
		return "64 KiB: sink only"
	case (cf.Name == cfgFanIn || cf.Name == cfgLinksOne) && (mode != "sink" || size != 20):
		return "fan-in: sink 20 B only"
	case cf.Name == cfgManyLinks && (mode != "ping" || size != 20 || f != first):
		return "many links: ping, 20 B, one framing"
	case cf.Fanout > 0 && (mode != "sink" || size != 20 || f != first):
		return "fan-out: sink, 20 B, one framing"
	}
	return ""
}

// run is one measurement.
type run struct {
	Count   int               `json:"count"`
	Rate    float64           `json:"rate"` // msgs/s (sink) or round trips/s (ping)
	Elapsed float64           `json:"elapsed_s"`
	RxCPU   float64           `json:"receiver_cpu_s"`  // from /proc/PID/stat
	TxCPU   float64           `json:"sender_cpu_s"`    // rusage of the sender process
	Other   float64           `json:"other_cpu_share"` // CPU busy outside sender+receiver, share of all CPUs
	P50     float64           `json:"p50_us,omitempty"`
	P99     float64           `json:"p99_us,omitempty"`
	Load1   float64           `json:"loadavg1"`
	Fields  map[string]string `json:"result"`
}

// cell is one configuration at one framing, size and mode.
type cell struct {
	Config  string `json:"config"`
	Mode    string `json:"mode"`
	Framing string `json:"framing"`
	Size    int    `json:"size"`
	Runs    []run  `json:"runs"`
	NA      string `json:"na,omitempty"`     // why it was not measured
	Failed  string `json:"failed,omitempty"` // why it failed
	cfg     config
}

func (c *cell) name() string {
	return fmt.Sprintf("%s %s %s %s", c.Mode, c.Framing, sizeName(c.Size), c.Config)
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// rates returns the rates of the runs.
func (c *cell) rates() []float64 {
	var r []float64
	for _, x := range c.Runs {
		r = append(r, x.Rate)
	}
	return r
}

// series is a repeated scalar measurement (handshakes, idle memory).
type series struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Values []float64 `json:"values"`
	Notes  []string  `json:"notes,omitempty"`
	Failed string    `json:"failed,omitempty"`
}

type runner struct {
	root, tmp, aemp, self string
	quick                 bool
	reps                  int
	seconds               float64
	only                  *regexp.Regexp
	perlWhy               string // non-empty: perl unusable
	perlCBORWhy           string // non-empty: no CBOR::XS
	natsBin               string
	natsWhy               string
	cells                 []*cell
	handshakes            series
	handshakesAgain       series
	handshakesCount       int
	connCeiling           series
	connFloor             series // the enrolment floor (bench.ListenConnFloor)
	handshakesPerl        series // against aemp-peer.pl
	handshakesPerlNode    series // against -perl-node
	allocs                []benchLine
	allocsFailed          string
	profiles              []profileRun
	idle                  series
	idleDetail            *bench.IdleMemory
	idleConns             int
	machine               machineInfo
	profileDir            string
	spin                  bool
	framings              []string
	start                 time.Time
	// perlNode, when set, is an external Perl node (HOST:PORT, e.g. a real
	// AnyEvent::MP node with echo and sink ports) used as the Perl
	// receiver instead of aemp-peer.pl; perlNodeID and perlNodeSecret are
	// its node ID ("": whichever answers) and secret.
	perlNode, perlNodeID, perlNodeSecret string
	// done is set when the measurements end (or from a saved run): the
	// run's duration and the load average then.
	done struct {
		duration float64
		load1    float64
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envBool(k string) bool {
	v := os.Getenv(k)
	return v != "" && v != "0" && v != "false"
}

func main() {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		os.Exit(runRole(os.Args[1], os.Args[2:]))
	}
	stopOnSignal()
	r := &runner{start: time.Now()}
	out := flag.String("out", "", "directory for RESULTS.md, results.svg and results.json (default: bench/ of the repository)")
	flag.BoolVar(&r.quick, "quick", envBool("QUICK"), "one repetition, shorter runs (env QUICK=1)")
	withNATS := flag.Bool("nats", envBool("NATS"), "also measure NATS pub/sub (env NATS=1; go installs pinned nats-server and natscli)")
	reps := flag.Int("reps", 0, "repetitions per cell (default 3; 1 with -quick; env REPS)")
	flag.Float64Var(&r.seconds, "seconds", 0, "target duration of one run (default 2; 0.5 with -quick)")
	only := flag.String("only", os.Getenv("ONLY"), "only cells whose name (\"MODE FRAMING SIZE CONFIG\") matches this regexp; also \"handshakes\", \"idle\", \"allocs\" (env ONLY)")
	idleConns := flag.Int("idle-conns", 10000, "idle connections for the memory measurement")
	framings := flag.String("framings", os.Getenv("FRAMINGS"), "framings to measure: json, storable, cbor (env FRAMINGS; default all three, json with -quick)")
	flag.BoolVar(&r.spin, "spin", os.Getenv("SPIN") != "0", "run a nice-19 busy loop per CPU during the ping groups, so that idle virtual CPUs do not halt between round trips (env SPIN=0 turns it off)")
	flag.StringVar(&r.profileDir, "profile", os.Getenv("PROFILE"), "write CPU profiles into `DIR`: of the aemp node receivers (one per group, via aemp node --cpuprofile), and of both ends of a dedicated one-link sink run, 20 B, per framing (env PROFILE)")
	commit := flag.String("commit", "", "describe the code measured (default: git rev-parse --short HEAD, plus \"+dirty\" when engine/, framing/ or cmd/ have changes)")
	flag.StringVar(&r.perlNode, "perl-node", os.Getenv("PERL_NODE"), "use the Perl node at `HOST:PORT` (a real AnyEvent::MP node serving echo and sink, say) as the Perl receiver instead of starting bench/perl/aemp-peer.pl (env PERL_NODE)")
	flag.StringVar(&r.perlNodeID, "perl-node-id", "", "node ID of the -perl-node (default: whichever node answers)")
	flag.StringVar(&r.perlNodeSecret, "perl-node-secret", "", "secret of the -perl-node (default: the comparison's own)")
	from := flag.String("from", "", "write the report again from `RESULTS_JSON`, the results.json of an earlier run, without measuring")
	flag.Parse()
	if *from != "" {
		dir := *out
		if dir == "" {
			dir = filepath.Dir(*from)
		}
		if err := r.load(*from); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(1)
		}
		if err := r.write(dir); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(1)
		}
		logf("report written from %s: %s", *from, filepath.Join(dir, "RESULTS.md"))
		return
	}
	if v, err := strconv.Atoi(os.Getenv("REPS")); err == nil && *reps == 0 {
		*reps = v
	}
	r.reps = *reps
	if r.reps <= 0 {
		r.reps = 3
		if r.quick {
			r.reps = 1
		}
	}
	if r.seconds <= 0 {
		r.seconds = 2
		if r.quick {
			r.seconds = 0.5
		}
	}
	r.idleConns = *idleConns
	if *framings == "" {
		*framings = "json,storable,cbor"
		if r.quick {
			*framings = "json"
		}
	}
	for _, f := range strings.Split(*framings, ",") {
		switch f = strings.TrimSpace(f); f {
		case "json", "storable", "cbor":
			r.framings = append(r.framings, f)
		case "":
		default:
			fatalf("-framings: unknown framing %q", f)
		}
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fatalf("-only: %v", err)
		}
		r.only = re
	}
	var err error
	if r.root, err = repoRoot(); err != nil {
		fatalf("%v", err)
	}
	if *out == "" {
		*out = filepath.Join(r.root, "bench")
	}
	if r.tmp, err = os.MkdirTemp("", "aemp-compare"); err != nil {
		fatalf("%v", err)
	}
	tmpDir = r.tmp
	defer os.RemoveAll(r.tmp)
	if r.self, err = os.Executable(); err != nil {
		fatalf("%v", err)
	}
	r.aemp = filepath.Join(r.tmp, "aemp")
	logf("building ./cmd/aemp into %s", r.tmp)
	if b, err := r.command("go", "build", "-o", r.aemp, "./cmd/aemp").CombinedOutput(); err != nil {
		fatalf("go build ./cmd/aemp: %v\n%s", err, b)
	}
	r.checkPerl()
	configs := append([]config(nil), allConfigs...)
	if *withNATS {
		r.installNATS()
		configs = append(configs, natsConfig)
	}
	r.machine = probeMachine(r.perlWhy == "")
	r.machine.Commit = *commit
	if r.machine.Commit == "" {
		r.machine.Commit = gitCommit(r.root)
	}
	if r.profileDir != "" {
		if r.profileDir, err = filepath.Abs(r.profileDir); err == nil {
			err = os.MkdirAll(r.profileDir, 0o755)
		}
		if err != nil {
			fatalf("-profile: %v", err)
		}
	}
	r.plan(configs)
	r.runAll()
	if err := r.write(*out); err != nil {
		fatalf("writing results: %v", err)
	}
	logf("done in %s: %s", time.Since(r.start).Round(time.Second), filepath.Join(*out, "RESULTS.md"))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
}

func fatalf(format string, args ...any) {
	logf(format, args...)
	os.Exit(1)
}

// repoRoot finds the module root (go.mod of github.com/aemp-go/aemp)
// from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/aemp-go/aemp\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run me inside the aemp-go repository (no go.mod of github.com/aemp-go/aemp above %s)", dir)
		}
		dir = parent
	}
}

func (r *runner) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = r.root
	// aemp node reads AnyEvent::MP's configuration file by default: the
	// nodes measured here are configured by their flags alone.
	cmd.Env = append(os.Environ(), "PERL_ANYEVENT_MP_RC=/dev/null")
	return cmd
}

func (r *runner) checkPerl() {
	err := exec.Command("perl", "-MAnyEvent::Handle", "-MJSON::XS", "-MStorable", "-e", "1").Run()
	if err != nil {
		r.perlWhy = "perl with AnyEvent::Handle, JSON::XS and Storable not available"
		logf("%s: Perl configurations are skipped", r.perlWhy)
	}
	if exec.Command("perl", "-MCBOR::XS", "-e", "1").Run() != nil {
		r.perlCBORWhy = "perl without CBOR::XS (libcbor-xs-perl)"
	}
}

// installNATS go-installs the pinned nats-server and natscli into a
// temporary GOBIN.
func (r *runner) installNATS() {
	bin := filepath.Join(r.tmp, "natsbin")
	for _, pkg := range []string{"github.com/nats-io/nats-server/v2@v2.15.2", "github.com/nats-io/natscli/nats@v0.5.0"} {
		logf("go install %s (GOBIN=%s)", pkg, bin)
		cmd := exec.Command("go", "install", pkg)
		cmd.Dir = r.tmp
		cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			r.natsWhy = fmt.Sprintf("go install %s failed: %v: %s", pkg, err, lastLine(string(b)))
			logf("%s", r.natsWhy)
			return
		}
	}
	r.natsBin = bin
}

// plan lists the cells in the order they run.
func (r *runner) plan(configs []config) {
	modes := []string{"sink", "ping"}
	if r.spin {
		modes = append(modes, "ping-awake")
	}
	for _, mode := range modes {
		for _, f := range r.framings {
			for _, size := range []int{20, 1024, largeSize} {
				for _, cf := range configs {
					c := &cell{Config: cf.Name, Mode: mode, Framing: f, Size: size, cfg: cf}
					if skip(cf, mode, f, r.framings[0], size) != "" {
						continue
					}
					switch {
					case cf.Sender == "nats" && r.natsBin == "":
						c.NA = r.natsWhy
					case cf.Receiver == "std" && f != "json":
						c.NA = "encoding/json baseline: json only"
					case (cf.Sender == "perl" || cf.Receiver == "perl") && r.perlWhy != "":
						c.NA = r.perlWhy
					case (cf.Sender == "perl" || cf.Receiver == "perl") && f == "cbor" && r.perlCBORWhy != "":
						c.NA = r.perlCBORWhy
					}
					if r.only != nil && !r.only.MatchString(c.name()) {
						continue
					}
					r.cells = append(r.cells, c)
				}
			}
		}
	}
}

func (r *runner) wantExtra(name string) bool { return r.only == nil || r.only.MatchString(name) }

// runAll measures every cell, then handshakes and idle memory. Cells are
// grouped by mode, framing and size; a group starts each receiver once,
// calibrates each configuration, then runs the repetitions round-robin
// across the configurations, so that drifting load on a shared machine
// hits all of them alike and the ratios stay meaningful.
func (r *runner) runAll() {
	type group struct {
		name  string
		cells []*cell
	}
	var groups []*group
	total := 0
	for _, c := range r.cells {
		if c.NA != "" {
			continue
		}
		total++
		name := fmt.Sprintf("%s %s %s", c.Mode, c.Framing, sizeName(c.Size))
		if len(groups) == 0 || groups[len(groups)-1].name != name {
			groups = append(groups, &group{name: name})
		}
		g := groups[len(groups)-1]
		g.cells = append(g.cells, c)
	}
	logf("%d groups, %d cells x %d repetitions of about %.1f s, then handshakes and idle memory; load average now %.2f",
		len(groups), total, r.reps, r.seconds, loadavg())
	t0 := time.Now()
	for i, g := range groups {
		eta := ""
		if i > 0 {
			eta = fmt.Sprintf(" (eta %s)", (time.Since(t0) / time.Duration(i) * time.Duration(len(groups)-i)).Round(time.Second))
		}
		logf("[%d/%d] %s%s", i+1, len(groups), g.name, eta)
		r.runGroup(g.name, g.cells)
	}
	if r.wantExtra("handshakes") {
		r.runHandshakes()
		r.runPerlHandshakes()
	}
	if r.wantExtra("idle") {
		r.runIdle()
	}
	if r.wantExtra("allocs") {
		r.runAllocs()
	}
	if r.profileDir != "" {
		r.runProfiles()
	}
}

func (r *runner) runGroup(name string, cells []*cell) {
	servers := map[string]*server{}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	var spin *server
	if len(cells) > 0 && cells[0].Mode == "ping-awake" {
		var err error
		spin, err = startServer("spinner", []string{"nice", "-n", "19", r.self, "spin"}, nil, func(l string) (string, bool) { return "", l == "READY spin" })
		if err != nil {
			logf("  no spinner: %v", err)
		} else {
			defer spin.stop()
		}
	}
	counts := map[*cell]int{}
	for _, c := range cells {
		key := c.cfg.serverKey()
		srv := servers[key]
		if srv == nil {
			var err error
			if srv, err = r.receiver(c, name); err != nil {
				c.Failed = err.Error()
				logf("  %s: failed: %v", c.Config, err)
				continue
			}
			servers[key] = srv
		}
		lo, hi := 20000, 200_000_000
		if isPing(c.Mode) {
			lo, hi = max(1000, 2*c.cfg.Conns), 5_000_000
		}
		if c.Size >= largeSize {
			lo, hi = 1000, 2_000_000
		}
		// Calibrate until a run lasts a quarter of the target, so that
		// fixed costs (connecting, the first report) do not dominate; half
		// for large messages, whose first megabytes also pay for growing
		// the buffers of both ends (sized from a quarter-target run, their
		// recorded runs lasted about half the target).
		n := calibrationCount(c)
		enough := r.seconds / 4
		if c.Size >= largeSize {
			enough = r.seconds / 2
		}
		var cal run
		var err error
		for try := 0; try < 4; try++ {
			if cal, err = r.runOnce(c, srv, spin, n); err != nil || cal.Elapsed >= enough || n >= hi {
				break
			}
			n = min(hi, max(2*n, int(float64(n)*r.seconds/2/max(cal.Elapsed, 0.001))))
		}
		if err != nil {
			c.Failed = "calibration: " + err.Error()
			logf("  %s: failed: %s", c.Config, c.Failed)
			continue
		}
		counts[c] = max(lo, min(hi, int(cal.Rate*r.seconds)))
	}
	for rep := 1; rep <= r.reps; rep++ {
		for _, c := range cells {
			if c.Failed != "" || counts[c] == 0 {
				continue
			}
			x, err := r.runOnce(c, servers[c.cfg.serverKey()], spin, counts[c])
			if err != nil {
				c.Failed = fmt.Sprintf("repetition %d: %v", rep, err)
				logf("  %s: failed: %s", c.Config, c.Failed)
				continue
			}
			c.Runs = append(c.Runs, x)
			extra := ""
			if isPing(c.Mode) {
				extra = fmt.Sprintf(", p50 %.0f us, p99 %.0f us", x.P50, x.P99)
			}
			logf("  rep %d/%d %-10s %12s %s in %.2f s (count %d%s; CPU/msg: rx %.2f us, tx %.2f us; other load %.0f%%)",
				rep, r.reps, c.Config, group(x.Rate), unit(c.Mode), x.Elapsed, x.Count, extra,
				x.RxCPU/float64(x.Count)*1e6, x.TxCPU/float64(x.Count)*1e6, 100*x.Other)
		}
	}
}

// runOnce makes one run of a cell against its receiver. spin is the
// spinner (or nil), whose CPU is not "other" load.
func (r *runner) runOnce(c *cell, srv, spin *server, count int) (run, error) {
	timeout := time.Duration(10*r.seconds*float64(time.Second)) + 30*time.Second
	var o runOut
	spinCPU := func() float64 {
		if spin == nil {
			return 0
		}
		return procCPU(spin.pid())
	}
	rx0, sys0, spin0, t0 := srv.cpu(), sysCPU(), spinCPU(), time.Now()
	if c.cfg.Sender == "nats" {
		o = r.runNATS(c, srv.addr, count, timeout)
	} else {
		o = runSender(r.senderArgv(c, srv.addr, count, timeout), timeout)
	}
	rx, sys, wall := srv.cpu()-rx0, sysCPU()-sys0-(spinCPU()-spin0), time.Since(t0).Seconds()
	if o.err != nil {
		return run{}, o.err
	}
	x := run{Count: count, TxCPU: o.cpu, RxCPU: rx, Load1: loadavg(), Fields: o.fields}
	if wall > 0 {
		x.Other = max(0, sys-rx-o.cpu) / (wall * float64(runtime.NumCPU()))
	}
	key := "msgs_per_s"
	if isPing(c.Mode) {
		key = "roundtrips_per_s"
	}
	x.Rate = num(o.fields[key])
	x.Elapsed = num(o.fields["elapsed"])
	x.P50, x.P99 = num(o.fields["p50_us"]), num(o.fields["p99_us"])
	if x.Rate <= 0 {
		return x, fmt.Errorf("no rate in %v", o.fields)
	}
	return x, nil
}

// readyAddr parses the "READY ADDR" line of this program's receivers.
func readyAddr(l string) (string, bool) {
	a, ok := strings.CutPrefix(l, "READY ")
	return strings.TrimSpace(a), ok
}

// receiver starts the receiving side of a cell; group names the profile
// file of an aemp node when -profile is set.
func (r *runner) receiver(c *cell, group string) (*server, error) {
	switch c.cfg.Receiver {
	case "go":
		argv := []string{r.aemp, "node", "--bind", "127.0.0.1:0", "--nodeid", "target", "--secret", secret}
		if c.cfg.Procs > 0 {
			argv = append(argv, "--procs", strconv.Itoa(c.cfg.Procs))
		}
		if r.profileDir != "" {
			argv = append(argv, "--cpuprofile", filepath.Join(r.profileDir, strings.ReplaceAll(group, " ", "-")+".aemp-node.pprof"))
		}
		return startServer("aemp node", argv, nil, aempReady)
	case "go-fanout":
		return r.fanoutReceivers(c.cfg.Fanout)
	case "perl":
		if r.perlNode != "" {
			return &server{name: "external Perl node", addr: r.perlNode}, nil
		}
		return startServer("aemp-peer.pl", []string{"perl", filepath.Join(r.root, "bench/perl/aemp-peer.pl"), "--listen", "127.0.0.1:0",
			"--nodeid", "target", "--secret", secret, "--framing", "json,storable,cbor"}, nil, readyAddr)
	case "std":
		return startServer("std-node", []string{r.self, "std-node", "--nodeid", "target", "--secret", secret}, nil, readyAddr)
	case "ceiling":
		return startServer("ceiling-recv", []string{r.self, "ceiling-recv"}, nil, readyAddr)
	case "nats":
		return startNATSServer(filepath.Join(r.natsBin, "nats-server"))
	}
	return nil, fmt.Errorf("unknown receiver %q", c.cfg.Receiver)
}

// fanoutReceivers starts n aemp nodes with node IDs target-0..n-1, one
// CPU each (GOMAXPROCS 1), as one server whose address is the list.
func (r *runner) fanoutReceivers(n int) (*server, error) {
	all := &server{name: fmt.Sprintf("%d aemp nodes", n)}
	var addrs []string
	for i := range n {
		s, err := startServer("aemp node", []string{r.aemp, "node", "--bind", "127.0.0.1:0", "--nodeid", "target-" + strconv.Itoa(i),
			"--secret", secret, "--procs", "1"}, nil, aempReady)
		if err != nil {
			all.stop()
			return nil, err
		}
		all.members = append(all.members, s)
		addrs = append(addrs, s.addr)
	}
	all.addr = strings.Join(addrs, ",")
	return all, nil
}

// aempReady parses the READY line of `aemp node`.
func aempReady(l string) (string, bool) {
	_, rest, ok := strings.Cut(l, " binds=")
	if !strings.HasPrefix(l, "READY ") || !ok {
		return "", false
	}
	a, _, _ := strings.Cut(rest, ",")
	return a, true
}

// targetOf returns the node ID and secret of a cell's receiver.
func (r *runner) targetOf(c *cell) (id, sec string) {
	if c.cfg.Receiver == "perl" && r.perlNode != "" {
		sec = r.perlNodeSecret
		if sec == "" {
			sec = secret
		}
		return r.perlNodeID, sec
	}
	return "target", secret
}

// senderArgv is the command line of one run of the sending side.
func (r *runner) senderArgv(c *cell, addr string, count int, timeout time.Duration) []string {
	n, size, to := strconv.Itoa(count), strconv.Itoa(c.Size), strconv.Itoa(int(timeout.Seconds()))
	switch c.cfg.Sender {
	case "go":
		target, sec := r.targetOf(c)
		mode := benchMode(c.Mode)
		argv := []string{r.aemp, "bench", "--connect", addr, "--secret", sec}
		if c.cfg.Fanout > 0 {
			mode = "fanout"
		} else {
			argv = append(argv, "--target", target)
		}
		argv = append(argv, "--mode", mode, "--count", n, "--size", size, "--framing", c.Framing,
			"--batch", strconv.Itoa(batchFor(c.Size)), "--outstanding", "4", "--inflight", "1", "--timeout", to,
			"--procs", strconv.Itoa(c.cfg.Procs))
		if c.cfg.Conns > 0 {
			argv = append(argv, "--conns", strconv.Itoa(c.cfg.Conns))
		}
		if c.cfg.Driver != "" {
			argv = append(argv, "--driver", c.cfg.Driver)
		}
		if c.cfg.SendMany {
			argv = append(argv, "--send-many")
		}
		if c.cfg.GoSender != "" {
			argv = append(argv, "--sender", c.cfg.GoSender)
		}
		return argv
	case "perl":
		_, sec := r.targetOf(c)
		return []string{"perl", filepath.Join(r.root, "bench/perl/aemp-send.pl"), "--connect", addr, "--secret", sec, "--mode", benchMode(c.Mode),
			"--count", n, "--size", size, "--framing", c.Framing, "--batch", "1000", "--outstanding", "4", "--inflight", "1",
			"--timeout", to, "--quiet", "--writes", map[bool]string{false: "message", true: "batch"}[c.cfg.BatchWrites]}
	case "ceiling":
		return []string{r.self, "ceiling-send", "--connect", addr, "--mode", benchMode(c.Mode), "--framing", c.Framing, "--size", size,
			"--count", n, "--timeout", to}
	}
	return nil
}

// batchFor is the sink batch for a payload size: 1000 messages, fewer
// for large ones (64 KiB: 64, 4 MiB a batch, 16 MiB in flight, the
// engine's default high-water mark).
func batchFor(size int) int {
	if size >= largeSize {
		return 64
	}
	return 1000
}

// calibrationCount is the size of the first, unrecorded run of a cell.
func calibrationCount(c *cell) int {
	if isPing(c.Mode) {
		return max(2000, 4*c.cfg.Conns)
	}
	if c.Size >= largeSize {
		return 2000
	}
	if c.cfg.Receiver == "perl" || c.cfg.Sender == "perl" {
		return 30000
	}
	return 200000
}

// isPing reports whether mode is one of the ping modes: "ping" (idle
// CPUs may halt between messages, as on any machine) or "ping-awake" (a
// nice-19 busy loop keeps them awake).
func isPing(mode string) bool { return mode == "ping" || mode == "ping-awake" }

// benchMode is the --mode of the senders for a cell's mode.
func benchMode(mode string) string {
	if isPing(mode) {
		return "ping"
	}
	return mode
}

func unit(mode string) string {
	if isPing(mode) {
		return "round trips/s"
	}
	return "msgs/s"
}

func num(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

// handshakeAuth is the auth method of the handshake measurement (the
// goal's: both sides authenticate with HMAC-MD6).
const handshakeAuth = "hmac_md6_64_256"

// runHandshakes measures `aemp bench --mode connect` against an aemp node:
// each repetition on a fresh node, then a second batch of the same size on
// that node (which has then seen as many distinct node IDs).
func (r *runner) runHandshakes() {
	r.handshakes = series{Name: "handshakes", Unit: "handshakes/s"}
	r.handshakesAgain = series{Name: "handshakes, second batch on the same node", Unit: "handshakes/s"}
	logf("handshakes: aemp bench --mode connect --conns 16 --auth %s -> aemp node (a fresh node per repetition)", handshakeAuth)
	one := func(srv *server, count int) (float64, error) {
		o := runSender([]string{r.aemp, "bench", "--connect", srv.addr, "--target", "target", "--secret", secret,
			"--mode", "connect", "--count", strconv.Itoa(count), "--conns", "16", "--auth", handshakeAuth, "--timeout", "120"}, 150*time.Second)
		if o.err != nil {
			return 0, o.err
		}
		if a := o.fields["auth"]; a != handshakeAuth {
			return 0, fmt.Errorf("handshakes used auth %q, not %s", a, handshakeAuth)
		}
		return num(o.fields["handshakes_per_s"]), nil
	}
	fail := func(err error) {
		r.handshakes.Failed = err.Error()
		logf("  failed: %v", err)
	}
	srv, err := r.receiver(&cell{cfg: config{Receiver: "go"}}, "handshakes")
	if err != nil {
		fail(err)
		return
	}
	cal, err := one(srv, 1000)
	srv.stop()
	if err != nil {
		fail(err)
		return
	}
	count := max(1000, min(50000, int(cal*r.seconds)))
	r.handshakesCount = count
	for rep := 1; rep <= r.reps; rep++ {
		srv, err := r.receiver(&cell{cfg: config{Receiver: "go"}}, "handshakes")
		if err != nil {
			fail(err)
			return
		}
		v, err := one(srv, count)
		var again float64
		if err == nil {
			again, err = one(srv, count)
		}
		srv.stop()
		if err != nil {
			fail(err)
			return
		}
		r.handshakes.Values = append(r.handshakes.Values, v)
		r.handshakesAgain.Values = append(r.handshakesAgain.Values, again)
		logf("  rep %d/%d: %s handshakes/s on a fresh node, then %s/s for %d more on the same node", rep, r.reps, group(v), group(again), count)
	}
	r.runConnCeiling(count)
}

// runConnCeiling measures the connection ceiling (bench.RunConnCeiling:
// the same connections and bytes as the handshakes, without the protocol)
// and, in turn with it, the enrolment floor (the same served through Go's
// accept and gnet's Enroll, bench.ListenConnFloor), with the same count
// and concurrency.
func (r *runner) runConnCeiling(count int) {
	r.connCeiling = series{Name: "connection ceiling", Unit: "connections/s"}
	r.connFloor = series{Name: "enrolment floor", Unit: "connections/s"}
	logf("connection ceiling: %d connections, 16 at a time, carrying a handshake's bytes between two epoll loops; "+
		"in turn, the enrolment floor: the same with the server's sockets going through Go's accept and gnet's Enroll", count)
	for rep := 1; rep <= r.reps; rep++ {
		for _, m := range []struct {
			role string
			s    *series
		}{{"conn-ceiling-recv", &r.connCeiling}, {"conn-floor-recv", &r.connFloor}} {
			if m.s.Failed != "" {
				continue
			}
			srv, err := startServer(m.role, []string{r.self, m.role}, nil, readyAddr)
			if err != nil {
				m.s.Failed = err.Error()
				logf("  %s failed: %v", m.s.Name, err)
				continue
			}
			o := runSender([]string{r.self, "conn-ceiling-send", "--connect", srv.addr, "--count", strconv.Itoa(count), "--conns", "16",
				"--timeout", "120"}, 150*time.Second)
			srv.stop()
			if o.err != nil {
				m.s.Failed = o.err.Error()
				logf("  %s failed: %v", m.s.Name, o.err)
				continue
			}
			v := num(o.fields["handshakes_per_s"])
			m.s.Values = append(m.s.Values, v)
			logf("  rep %d/%d: %s: %s connections/s", rep, r.reps, m.s.Name, group(v))
		}
	}
}

// runIdle opens idle authenticated connections from this process to an
// aemp node and reads the node's RSS.
func (r *runner) runIdle() {
	r.idle = series{Name: "idle memory", Unit: "bytes/conn"}
	n := r.idleConns
	logf("idle memory: %d authenticated idle connections from this process to an aemp node", n)
	srv, err := r.receiver(&cell{cfg: config{Receiver: "go"}}, "idle")
	if err != nil {
		r.idle.Failed = err.Error()
		return
	}
	defer srv.stop()
	time.Sleep(300 * time.Millisecond)
	settle, hold := 3*time.Second, 5*time.Second
	if r.quick {
		settle, hold = time.Second, time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, ic, err := bench.MeasureIdleMemory(ctx, srv.pid(), srv.addr, secret, n, settle, hold)
	if err != nil {
		r.idle.Failed = err.Error()
		logf("  failed: %v", err)
		return
	}
	ic.Close()
	r.idleDetail = m
	r.idle.Values = []float64{m.BytesPerConn}
	logf("  RSS %s -> %s (all open, %.1f s) -> %s after %v, at most %s over %v: %.0f bytes/conn",
		mib(m.RSSBefore), mib(m.RSSOpen), m.OpenElapsed.Seconds(), mib(m.RSSSettled), settle, mib(m.RSSMax), hold, m.BytesPerConn)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// loadavg returns the 1-minute load average.
func loadavg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	return num(f[0])
}

// group formats a number with thousands separators.
func group(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(v []float64) (lo, hi float64) {
	if len(v) == 0 {
		return 0, 0
	}
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return
}

// machineInfo describes where the results come from.
type machineInfo struct {
	Model    string  `json:"model"`
	CPUs     int     `json:"cpus"`
	Kernel   string  `json:"kernel"`
	Go       string  `json:"go"`
	Perl     string  `json:"perl,omitempty"`
	AnyEvent string  `json:"anyevent_model,omitempty"`
	JSONXS   string  `json:"json_xs,omitempty"`
	Load1    float64 `json:"loadavg1_start"`
	Date     string  `json:"date"`
	Commit   string  `json:"commit"`
}

// gitCommit names the checked-out commit, "+dirty" when the code the
// measurements run (engine/, framing/, cmd/, md6/, go.mod) has changes.
func gitCommit(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	c := strings.TrimSpace(string(b))
	st := exec.Command("git", "status", "--porcelain", "--", "engine", "framing", "cmd", "md6", "go.mod", "go.sum")
	st.Dir = root
	if out, err := st.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		c += "+dirty"
	}
	return c
}

func probeMachine(perl bool) machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), Go: runtime.Version(), Load1: loadavg(), Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := exec.Command("lscpu").Output(); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Model name:"); ok {
				m.Model = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "CPU(s):"); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					m.CPUs = n
				}
			}
		}
	}
	if b, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if perl {
		if b, err := exec.Command("perl", "-MAnyEvent", "-MJSON::XS", "-e",
			`AnyEvent::detect; printf "%vd\n%s\n%s\n", $^V, $AnyEvent::MODEL, $JSON::XS::VERSION`).Output(); err == nil {
			f := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(f) == 3 {
				m.Perl, m.AnyEvent, m.JSONXS = f[0], f[1], f[2]
			}
		}
	}
	return m
}

// saved is results.json: everything the report is made from.
type saved struct {
	Machine         machineInfo       `json:"machine"`
	Quick           bool              `json:"quick"`
	Reps            int               `json:"reps"`
	Seconds         float64           `json:"seconds_per_run"`
	Cells           []*cell           `json:"cells"`
	Handshakes      series            `json:"handshakes"`
	HandshakesAgain series            `json:"handshakes_second_batch"`
	HandshakesCount int               `json:"handshakes_count"`
	ConnCeiling     series            `json:"connection_ceiling"`
	ConnFloor       series            `json:"enrolment_floor"`
	Framings        []string          `json:"framings"`
	HandshakesPerl  series            `json:"handshakes_perl_peer"`
	HandshakesNode  series            `json:"handshakes_perl_node"`
	Allocs          []benchLine       `json:"allocs,omitempty"`
	AllocsFailed    string            `json:"allocs_failed,omitempty"`
	Profiles        []profileRun      `json:"profiles,omitempty"`
	Idle            series            `json:"idle"`
	IdleDetail      *bench.IdleMemory `json:"idle_detail"`
	Load1End        float64           `json:"loadavg1_end"`
	Duration        float64           `json:"duration_s"`
	Spin            bool              `json:"ping_spinner"`
	PerlNode        string            `json:"perl_node,omitempty"`
}

// load reads a saved run, so that the report can be written again.
func (r *runner) load(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var v saved
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r.machine, r.quick, r.reps, r.seconds, r.spin = v.Machine, v.Quick, v.Reps, v.Seconds, v.Spin
	r.handshakes, r.handshakesAgain, r.handshakesCount = v.Handshakes, v.HandshakesAgain, v.HandshakesCount
	r.connCeiling, r.connFloor = v.ConnCeiling, v.ConnFloor
	r.handshakesPerl, r.handshakesPerlNode = v.HandshakesPerl, v.HandshakesNode
	r.allocs, r.allocsFailed, r.profiles = v.Allocs, v.AllocsFailed, v.Profiles
	r.idle, r.idleDetail = v.Idle, v.IdleDetail
	r.done.duration, r.done.load1 = v.Duration, v.Load1End
	r.perlNode = v.PerlNode
	byName := map[string]config{natsConfig.Name: natsConfig}
	for _, c := range allConfigs {
		byName[c.Name] = c
	}
	for _, c := range v.Cells {
		cf, ok := byName[c.Config]
		if !ok {
			return fmt.Errorf("%s: unknown configuration %q", path, c.Config)
		}
		c.cfg = cf
	}
	r.cells = v.Cells
	r.framings = v.Framings
	if len(r.framings) == 0 { // a run saved before they were: in the order of its cells
		seen := map[string]bool{}
		for _, c := range r.cells {
			if !seen[c.Framing] && c.cfg.Sender != "nats" {
				seen[c.Framing] = true
				r.framings = append(r.framings, c.Framing)
			}
		}
	}
	if len(r.framings) == 0 {
		r.framings = []string{"json"}
	}
	return nil
}

// write produces RESULTS.md, results.svg and results.json in dir.
func (r *runner) write(dir string) error {
	if r.done.duration == 0 {
		r.done.duration, r.done.load1 = time.Since(r.start).Seconds(), loadavg()
	}
	raw := saved{Machine: r.machine, Quick: r.quick, Reps: r.reps, Seconds: r.seconds, Cells: r.cells,
		Handshakes: r.handshakes, HandshakesAgain: r.handshakesAgain, HandshakesCount: r.handshakesCount,
		Framings: r.framings, ConnCeiling: r.connCeiling, ConnFloor: r.connFloor, HandshakesPerl: r.handshakesPerl, HandshakesNode: r.handshakesPerlNode,
		Allocs: r.allocs, AllocsFailed: r.allocsFailed, Profiles: r.profiles, Idle: r.idle, IdleDetail: r.idleDetail, Load1End: r.done.load1, Duration: r.done.duration, Spin: r.spin,
		PerlNode: r.perlNode}
	j, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.svg"), []byte(r.svg()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), []byte(r.markdown()), 0o644)
}

func timeSince(t time.Time) float64 { return time.Since(t).Seconds() }
