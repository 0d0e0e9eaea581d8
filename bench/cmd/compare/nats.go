package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// NATS (optional, NATS=1): nats-server v2.15.2 and natscli v0.5.0's
// `nats bench`, go-installed into a temporary GOBIN. sink is pub/sub with
// one publisher and one subscriber (the subscriber's rate is the result);
// ping is `nats bench service request` against `service serve` with one
// client each: a request/reply round trip through the server (two hops
// each way, where AEMP's ping has one). The receiver CPU is nats-server's;
// the sender CPU is both bench clients' (publisher and subscriber, or
// requester and service).

// startNATSServer runs nats-server on a free port of 127.0.0.1 and waits
// until it accepts connections.
func startNATSServer(bin string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", port)
	st := &tail{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = st, st
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := track(&server{name: "nats-server", cmd: cmd, addr: addr, stderr: st, done: make(chan struct{})})
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("nats-server exited: %s", st.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("nats-server not ready: %s", st.String())
		}
	}
}

// natsCSV reads the data row of a `nats bench --csv` file as a map.
func natsCSV(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var head []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(l), ",")
		if len(f) < 2 {
			continue
		}
		if strings.HasPrefix(f[0], "#") {
			head = f
			head[0] = strings.TrimPrefix(head[0], "#")
			continue
		}
		if head == nil {
			continue
		}
		m := map[string]string{}
		for i := range min(len(f), len(head)) {
			m[head[i]] = f[i]
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s: no data row", path)
}

var natsSeq int

func (r *runner) runNATS(c *cell, addr string, count int, timeout time.Duration) runOut {
	natsSeq++
	nats := filepath.Join(r.natsBin, "nats")
	subject := fmt.Sprintf("aemp.compare.%d", natsSeq)
	csv := filepath.Join(r.tmp, fmt.Sprintf("nats-%d.csv", natsSeq))
	common := []string{"-s", "nats://" + addr, "bench"}
	n, size := strconv.Itoa(count), strconv.Itoa(c.Size)
	// the background side: subscriber (sink) or service (ping)
	var bgArgs []string
	ready := "expecting"
	if c.Mode == "sink" {
		bgArgs = append(common, "sub", subject, "--msgs", n, "--size", size, "--no-progress", "--csv", csv)
	} else {
		bgArgs = append(common, "service", "serve", subject, "--no-progress")
		ready = "Starting"
	}
	bg := exec.CommandContext(rootCtx, nats, bgArgs...)
	w := newWatch(ready)
	bg.Stdout, bg.Stderr = w, w
	if err := bg.Start(); err != nil {
		return runOut{err: err}
	}
	bgDone := make(chan struct{})
	go func() { bg.Wait(); close(bgDone) }()
	stopBG := func() float64 { // returns its CPU seconds
		select {
		case <-bgDone:
		default:
			bg.Process.Signal(os.Interrupt)
			select {
			case <-bgDone:
			case <-time.After(3 * time.Second):
				bg.Process.Kill()
				<-bgDone
			}
		}
		if ps := bg.ProcessState; ps != nil {
			return (ps.UserTime() + ps.SystemTime()).Seconds()
		}
		return 0
	}
	defer stopBG()
	select {
	case <-w.seen:
	case <-bgDone:
		return runOut{err: fmt.Errorf("nats bench %s exited: %s", bgArgs[3], w.String())}
	case <-time.After(10 * time.Second):
		return runOut{err: fmt.Errorf("nats bench %s did not start: %s", bgArgs[3], w.String())}
	}
	time.Sleep(200 * time.Millisecond) // the subscription reaches the server
	var fgArgs []string
	fgCSV := csv
	if c.Mode == "sink" {
		fgCSV = csv + ".pub"
		fgArgs = append(common, "pub", subject, "--msgs", n, "--size", size, "--no-progress", "--csv", fgCSV)
	} else {
		fgArgs = append(common, "service", "request", subject, "--msgs", n, "--size", size, "--no-progress", "--csv", fgCSV)
	}
	_, fg := runProcess(append([]string{nats}, fgArgs...), timeout)
	if fg.err != nil {
		return fg
	}
	var row map[string]string
	var err error
	if c.Mode == "sink" {
		select {
		case <-bgDone:
		case <-time.After(timeout):
			return runOut{err: fmt.Errorf("nats subscriber did not finish")}
		}
		row, err = natsCSV(csv)
	} else {
		row, err = natsCSV(fgCSV)
	}
	if err != nil {
		return runOut{err: err}
	}
	fields := map[string]string{"elapsed": row["DurationSecs"], "received": row["MsgCount"]}
	if c.Mode == "sink" {
		fields["msgs_per_s"] = row["MsgsPerSec"]
	} else {
		fields["roundtrips_per_s"] = row["MsgsPerSec"]
		fields["p50_us"] = row["P50LatencyMicroSecs"]
		fields["p99_us"] = row["P99LatencyMicroSecs"]
	}
	// the client CPU: publisher and subscriber, or requester and service
	return runOut{fields: fields, cpu: fg.cpu + stopBG(), wall: fg.wall}
}
