package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGroup(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 12: "12", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -4500: "-4,500"} {
		if got := group(v); got != want {
			t.Errorf("group(%v) = %q, want %q", v, got, want)
		}
	}
	if sizeName(20) != "20B" || sizeName(1024) != "1KiB" {
		t.Errorf("sizeName: %q %q", sizeName(20), sizeName(1024))
	}
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 2, 3}) != 2.5 || median(nil) != 0 {
		t.Error("median")
	}
}

// TestNatsCSV parses the CSV that natscli v0.5.0 `nats bench --csv` writes
// (the last row without a newline, as it does).
func TestNatsCSV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub.csv")
	os.WriteFile(p, []byte("#RunID,ClientID,MsgCount,MsgBytes,MsgsPerSec,BytesPerSec,DurationSecs\n"+
		"z2AZERm7207OZtX0m6ZBIi,S0,500000,10000000,329358,6587168.427640,1.518103"), 0o644)
	m, err := natsCSV(p)
	if err != nil {
		t.Fatal(err)
	}
	if m["MsgsPerSec"] != "329358" || m["DurationSecs"] != "1.518103" {
		t.Fatalf("%v", m)
	}
}

func TestProcCPU(t *testing.T) {
	if sysCPU() <= 0 {
		t.Error("sysCPU: no busy time")
	}
	end := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(end) {
	}
	if procCPU(os.Getpid()) <= 0 {
		t.Error("procCPU of this process: 0")
	}
}

// fakeRunner has a complete set of cells with made-up rates.
func fakeRunner() *runner {
	r := &runner{reps: 3, seconds: 2, start: time.Now(), framings: []string{"json"},
		machine: machineInfo{Model: "Test CPU", CPUs: 2, Date: "2026-01-01 00:00 UTC", Commit: "abc1234"}}
	rates := map[string]float64{"Go->Go": 3e6, "Perl->Perl": 150e3, "Go->Perl": 140e3, "Perl->Go": 1.5e6, "Go->std": 1e6, "ceiling": 80e6,
		"Perl(batched)->Perl": 900e3, "Go->Go, 1 CPU each": 3e6, cfgFanIn: 2.85e6, cfgLinksOne: 3.2e6, cfgManyLinks: 4e6, cfgFanOut: 2e6}
	for _, mode := range []string{"sink", "ping"} {
		for _, size := range []int{20, largeSize} {
			for _, cf := range allConfigs {
				if skip(cf, mode, "json", "json", size) != "" {
					continue
				}
				c := &cell{Config: cf.Name, Mode: mode, Framing: "json", Size: size, cfg: cf}
				for i := range 3 {
					v := rates[cf.Name] * (1 + 0.01*float64(i))
					if mode == "ping" {
						v /= 100
					}
					if size == largeSize {
						v /= 1000 // Go->Go 3,030 msgs/s = 198.6 MB/s, the ceiling 80,000 = 5,243 MB/s
					}
					c.Runs = append(c.Runs, run{Count: 1000, Rate: v, RxCPU: 0.00007, TxCPU: 0.0001, P50: 20, P99: 90, Other: 0.2})
				}
				r.cells = append(r.cells, c)
			}
		}
		r.cells = append(r.cells, &cell{Config: "Go->std", Mode: mode, Framing: "storable", Size: 20, cfg: config{Name: "Go->std", Sender: "go", Receiver: "std"}, NA: "json only"})
	}
	r.cells = append(r.cells, &cell{Config: "NATS", Mode: "sink", Framing: "json", Size: 20, cfg: natsConfig,
		Runs: []run{{Count: 1000, Rate: 1e6}}})
	r.handshakes = series{Values: []float64{5000, 5500, 6000}}
	r.connCeiling = series{Values: []float64{10000, 11000, 12000}}
	r.handshakesPerl = series{Name: "handshakes, Perl peer (bench/perl/aemp-peer.pl)", Values: []float64{1000, 1100, 1200}, Notes: []string{"peer auth: cleartext"}}
	r.allocs = parseBench(benchOut)
	return r
}

const benchOut = `goos: linux
BenchmarkSendRemote/framing=json-2         	  100000	       246.2 ns/op	     111 B/op	       0 allocs/op
BenchmarkEngineSinkInProcess/framing=json/handler=count-2         	  100000	      1205 ns/op	    829709 msgs/s	      93 B/op	       0 allocs/op
BenchmarkEngineSinkInProcess/framing=json/handler=args-2          	  100000	      2304 ns/op	    412980 msgs/s	     151 B/op	       3 allocs/op
PASS
`

func TestParseBench(t *testing.T) {
	l := parseBench(benchOut)
	if len(l) != 3 || l[0].Name != "BenchmarkSendRemote/framing=json" || l[0].NsPerOp != 246.2 || l[0].BytesPerOp != 111 || l[0].AllocsPerOp != 0 ||
		l[2].AllocsPerOp != 3 || l[2].BytesPerOp != 151 {
		t.Fatalf("%+v", l)
	}
}

func TestMarkdown(t *testing.T) {
	md := fakeRunner().markdown()
	for _, want := range []string{
		"code: abc1234",
		"| Go->Go sink, json, 20 B, one link | >= 80x Perl->Perl | 3,030,000 msgs/s = 20.00x Perl->Perl (151,500 msgs/s) | **not met** |",
		"| CPU per message, sink json 20 B, one link | <= 80 ns receiver, <= 80 ns sender | receiver 70 ns, sender 100 ns | **not met** |",
		"| the same with `--procs 1` (1 CPU per process, as each Perl process has) | >= 80x; <= 80 ns each end | 3,030,000 msgs/s = 20.00x Perl->Perl; receiver 70 ns, sender 100 ns per message | **not met** |",
		"| fan-in: 32 links into one node, sink json 20 B | >= 0.9x the one-link rate | 2,878,500 msgs/s = 0.95x of one link (3,030,000 msgs/s) | met |",
		"| 1,000 links, one ping in flight each (json 20 B) | total round trips/s and p99 | 40,400 round trips/s, p99 90 µs | reported |",
		"| fan-out: one node sending to 32 nodes (sink json 20 B) | aggregate rate | 2,020,000 msgs/s | reported |",
		"| 5,500/s vs 1,100/s = 5.00x; the Perl peer lacked Digest::MD6",
		"| handshakes vs a real AnyEvent::MP 1.30 node | >= 4x | not in this run",
		"| handshakes vs the connection ceiling | >= 70% | 5,500/s = 50.0% of 11,000/s | **not met** |",
		"| 64 KiB messages, json, one link | MB/s and fraction of the ceiling | 199 MB/s = 3.8% of 5,295 MB/s | reported |",
		"| 64 KiB messages, cbor, one link | >= 50% of the loopback ceiling | – MB/s = – of – MB/s | not measured |",
		"| allocations per message on the hot path (-benchmem) | 0 | SendRemote/framing=json 0, EngineSinkInProcess/framing=json/handler=count 0 | met |",
		"### Earlier goals",
		"| json | 20B | **Go->Go** | 3,030,000 | 3,000,000–3,060,000 | 20.00x | 3.8% |",
		"| json | 20B | Go->Go, 32 links | 2,878,500 |",
		"| json 20 B | 3,030,000 | 3,232,000 | 2,878,500 | 0.95x | 0.89x | 70 | 100 |",
		"1,000 links, one ping in flight on each, json 20 B: **40,400 round trips/s** in total (one link: 30,300), p50 20 µs, **p99 90 µs**.",
		"**2,020,000 msgs/s** in total",
		"| json | 199 | 197–201 | 3,030 | 5,295 | 3.8% |",
		"| storable | 20B | Go->std | n/a | json only |",
		"5,500 handshakes/s",
		"Perl peer (bench/perl/aemp-peer.pl) (peer auth: cleartext): **1,100 handshakes/s**",
		"**11,000 connections/s** (min–max 10,000–12,000). The handshakes reach 50.0% of it",
		"| 5,500/s (50.0% of the connection ceiling, 11,000/s) |",
		"| BenchmarkEngineSinkInProcess/framing=json/handler=args | 2304 | 151 | 3 |",
		"## NATS",
		"treat these figures as provisional",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "| json | 64KiB |") {
		t.Error("64 KiB rows in the msgs/s table")
	}
	if t.Failed() {
		t.Log(md)
	}
}

func TestSVG(t *testing.T) {
	s := fakeRunner().svg()
	d := xml.NewDecoder(strings.NewReader(s))
	rects := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	// background, 6 configurations x 2 modes, batched Perl sink, Go->Go
	// on 1 CPU each (ping and sink 20 B), NATS, 32 links and 1 link with
	// the links driver (sink), 1,000 links (ping), fan-out (sink), 64 KiB
	// Go->Go and ceiling
	if rects != 1+2*6+1+2+1+2+1+1+2 {
		t.Errorf("%d rects", rects)
	}
}

// TestPlan: the many-links and 64 KiB configurations appear only where
// they belong.
func TestPlan(t *testing.T) {
	r := &runner{framings: []string{"json", "storable", "cbor"}, spin: true}
	r.plan(allConfigs)
	count := map[string]int{}
	for _, c := range r.cells {
		count[c.Config]++
		switch {
		case c.Size == largeSize && (c.Mode != "sink" || c.Config != cfgGoGo && c.Config != cfgCeiling):
			t.Errorf("64 KiB cell %s", c.name())
		case c.Config == cfgManyLinks && (c.Mode != "ping" || c.Framing != "json" || c.Size != 20):
			t.Errorf("many links cell %s", c.name())
		case c.Config == cfgFanOut && (c.Mode != "sink" || c.Framing != "json" || c.Size != 20):
			t.Errorf("fan-out cell %s", c.name())
		case (c.Config == cfgFanIn || c.Config == cfgLinksOne) && (c.Mode != "sink" || c.Size != 20):
			t.Errorf("fan-in cell %s", c.name())
		}
	}
	if count[cfgFanIn] != 3 || count[cfgLinksOne] != 3 || count[cfgManyLinks] != 1 || count[cfgFanOut] != 1 {
		t.Errorf("cells per configuration: %v", count)
	}
	large := 0
	for _, c := range r.cells {
		if c.Size == largeSize {
			large++
		}
	}
	if large != 6 {
		t.Errorf("%d 64 KiB cells, want Go->Go and ceiling in 3 framings", large)
	}
	argv := r.senderArgv(r.find(cfgFanOut, "sink", "json", 20), "a:1,b:2", 1000, time.Minute)
	if s := strings.Join(argv, " "); !strings.Contains(s, "--mode fanout") || strings.Contains(s, "--target") || !strings.Contains(s, "--connect a:1,b:2") {
		t.Errorf("fan-out argv %q", s)
	}
	argv = r.senderArgv(r.find(cfgFanIn, "sink", "cbor", 20), "a:1", 1000, time.Minute)
	if s := strings.Join(argv, " "); !strings.Contains(s, "--conns 32") || !strings.Contains(s, "--target target") {
		t.Errorf("fan-in argv %q", s)
	}
	argv = r.senderArgv(r.find(cfgGoGo, "sink", "cbor", largeSize), "a:1", 1000, time.Minute)
	if s := strings.Join(argv, " "); !strings.Contains(s, "--batch 64") || strings.Contains(s, "--conns") {
		t.Errorf("64 KiB argv %q", s)
	}
}
