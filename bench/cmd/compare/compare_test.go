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
	r := &runner{reps: 3, seconds: 2, start: time.Now(), machine: machineInfo{Model: "Test CPU", CPUs: 2, Date: "2026-01-01 00:00 UTC", Commit: "abc1234"}}
	rates := map[string]float64{"Go->Go": 3e6, "Perl->Perl": 150e3, "Go->Perl": 140e3, "Perl->Go": 1.5e6, "Go->std": 1e6, "ceiling": 80e6,
		"Perl(batched)->Perl": 900e3, "Go->Go, 1 CPU each": 3e6}
	for _, mode := range []string{"sink", "ping"} {
		for _, cf := range allConfigs {
			if cf.BatchWrites && mode != "sink" || cf.Procs > 0 && mode != "ping" {
				continue
			}
			c := &cell{Config: cf.Name, Mode: mode, Framing: "json", Size: 20, cfg: cf}
			for i := range 3 {
				v := rates[cf.Name] * (1 + 0.01*float64(i))
				if mode == "ping" {
					v /= 100
				}
				c.Runs = append(c.Runs, run{Count: 1000, Rate: v, RxCPU: 0.001, TxCPU: 0.002, P50: 20, P99: 90, Other: 0.2})
			}
			r.cells = append(r.cells, c)
		}
		r.cells = append(r.cells, &cell{Config: "Go->std", Mode: mode, Framing: "storable", Size: 20, cfg: config{"Go->std", "go", "std", false, 0}, NA: "json only"})
	}
	r.cells = append(r.cells, &cell{Config: "NATS", Mode: "sink", Framing: "json", Size: 20, cfg: natsConfig,
		Runs: []run{{Count: 1000, Rate: 1e6}}})
	r.handshakes = series{Values: []float64{5000, 5500, 6000}}
	r.connCeiling = series{Values: []float64{10000, 11000, 12000}}
	return r
}

func TestMarkdown(t *testing.T) {
	md := fakeRunner().markdown()
	for _, want := range []string{
		"code: abc1234",
		"| Go->Go sink, json, 20 B | >= 4,000,000 msgs/s | 3,030,000 msgs/s",
		"**not met**",
		"| json | 20B | **Go->Go** | 3,030,000 | 3,000,000–3,060,000 | 20.00x | 3.8% |",
		"| storable | 20B | Go->std | n/a | json only |",
		"5,500 handshakes/s",
		"**11,000 connections/s** (min–max 10,000–12,000). The handshakes reach 50.0% of it",
		"| 5,500/s (50.0% of the connection ceiling, 11,000/s) |",
		"## NATS",
		"treat these figures as provisional",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
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
	if rects != 1+2*6+1+1+1 { // background, 6 configurations x 2 modes, batched Perl sink, Go->Go ping on 1 CPU each, NATS
		t.Errorf("%d rects", rects)
	}
}
