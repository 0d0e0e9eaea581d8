// Command metricscost measures what serving metrics costs an aemp node:
// it runs "aemp bench --mode sink" against "aemp node" without metrics
// and with --metrics scraped every second, interleaved, and compares the
// median message rates with the run-to-run spread of the runs without.
//
//	go run ./bench/cmd/metricscost [-runs 3] [-count 2000000] [-size 20] [-aemp PATH]
//
// Run it on a quiet machine: the verdict compares figures that other
// work on the machine would disturb more than metrics do. Exit status 0
// when the median with metrics is within the range of the runs without
// (or above it), 1 when it is below, 2 when a run failed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const secret = "metrics-cost-secret"

func main() {
	runs := flag.Int("runs", 3, "runs of each variant (interleaved)")
	count := flag.Int("count", 2000000, "messages per run")
	size := flag.Int("size", 20, "payload bytes")
	framing := flag.String("framing", "json", "framing the sender offers")
	aemp := flag.String("aemp", "", "aemp binary (default: build ./cmd/aemp)")
	interval := flag.Duration("scrape", time.Second, "scrape interval")
	flag.Parse()
	bin := *aemp
	if bin == "" {
		dir, err := os.MkdirTemp("", "metricscost")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "aemp")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/aemp").CombinedOutput(); err != nil {
			fail(fmt.Errorf("go build ./cmd/aemp (run from the repository's root): %v\n%s", err, out))
		}
	}
	rates := map[bool][]float64{}
	scrapes := 0
	for i := range *runs {
		// Alternate which variant goes first, so that a drift of the
		// machine's speed does not favour one.
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, withMetrics := range order {
			r, n, err := runOnce(bin, withMetrics, *count, *size, *framing, *interval)
			if err != nil {
				fail(err)
			}
			scrapes += n
			rates[withMetrics] = append(rates[withMetrics], r)
			if withMetrics && n < 3 {
				fmt.Fprintf(os.Stderr, "metricscost: only %d scrapes during a run: raise -count for runs of several seconds\n", n)
			}
			fmt.Printf("run %d %-12s %12.0f msgs/s", i+1, variant(withMetrics), r)
			if withMetrics {
				fmt.Printf("  (%d scrapes)", n)
			}
			fmt.Println()
		}
	}
	plain, with := rates[false], rates[true]
	mp, mw := median(plain), median(with)
	lo, hi := slices.Min(plain), slices.Max(plain)
	fmt.Printf("without metrics: median %.0f msgs/s, range %.0f..%.0f (spread %.1f%%)\n", mp, lo, hi, 100*(hi-lo)/mp)
	fmt.Printf("with metrics:    median %.0f msgs/s (%+.1f%% against the median without), %d scrapes in all\n", mw, 100*(mw-mp)/mp, scrapes)
	switch {
	case mw > hi:
		fmt.Println("RESULT above every run without metrics: no cost measurable, but the runs are noisy (is the machine quiet?)")
		return
	case mw >= lo:
		fmt.Println("RESULT within the run-to-run spread of the runs without metrics: no cost measurable")
		return
	}
	fmt.Println("RESULT below the runs without metrics")
	os.Exit(1)
}

func variant(withMetrics bool) string {
	if withMetrics {
		return "with metrics"
	}
	return "without"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "metricscost:", err)
	os.Exit(2)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runOnce starts a node, scrapes it every interval if withMetrics, and
// returns the sink rate aemp bench measured and the number of scrapes.
func runOnce(bin string, withMetrics bool, count, size int, framing string, interval time.Duration) (rate float64, scrapes int, err error) {
	args := []string{"node", "--bind", "127.0.0.1:0", "--nodeid", "target", "--secret", secret}
	if withMetrics {
		args = append(args, "--metrics", "127.0.0.1:0")
	}
	node := exec.Command(bin, args...)
	node.Env = append(os.Environ(), "PERL_ANYEVENT_MP_RC=/dev/null") // flags alone configure it
	node.Env = append(os.Environ(), "PERL_ANYEVENT_MP_RC=/dev/null")
	out, err := node.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := node.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		node.Process.Signal(os.Interrupt)
		node.Wait()
	}()
	var addr, url string
	sc := bufio.NewScanner(out)
	for addr == "" && sc.Scan() {
		l := sc.Text()
		if u, ok := strings.CutPrefix(l, "METRICS "); ok {
			url = u
		}
		if i := strings.Index(l, "binds="); strings.HasPrefix(l, "READY ") && i >= 0 {
			addr = strings.Split(l[i+len("binds="):], ",")[0]
		}
	}
	if addr == "" {
		return 0, 0, fmt.Errorf("aemp node printed no READY line")
	}
	go io.Copy(io.Discard, out)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var scrapeErr error
	if withMetrics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for first := true; ; first = false {
				if !first {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
				}
				resp, err := http.Get(url)
				if err != nil {
					scrapeErr = err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					scrapeErr = fmt.Errorf("GET %s: %s", url, resp.Status)
					return
				}
				scrapes++
			}
		}()
	}
	b := exec.Command(bin, "bench", "--connect", addr, "--target", "target", "--secret", secret, "--mode", "sink",
		"--count", strconv.Itoa(count), "--size", strconv.Itoa(size), "--framing", framing, "--timeout", "600", "--json")
	b.Env = node.Env
	b.Stderr = io.Discard
	res, err := b.Output()
	cancel()
	wg.Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("aemp bench: %v\n%s", err, res)
	}
	if scrapeErr != nil {
		return 0, 0, scrapeErr
	}
	for _, l := range strings.Split(string(res), "\n") {
		var obj map[string]any
		if json.Unmarshal([]byte(l), &obj) == nil {
			if r, ok := obj["msgs_per_s"].(float64); ok {
				return r, scrapes, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no msgs_per_s in aemp bench's output:\n%s", res)
}
