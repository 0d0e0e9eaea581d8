package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/services"
)

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--connect", "127.0.0.1:1", "--secret", "s", "--mode", "sink", "--driver", "engine", "--conns", "2"},
		{"--connect", "127.0.0.1:1", "--secret", "s", "--mode", "sink", "--driver", "fast"},
		{"--connect", "127.0.0.1:1,127.0.0.1:2", "--secret", "s", "--mode", "sink"},
		{"--connect", "127.0.0.1:1", "--secret", "s", "--mode", "ping", "--conns", "10", "--count", "9"},
		{"--connect", "127.0.0.1:1,127.0.0.1:2", "--secret", "s", "--mode", "fanout", "--target", "x"},
		{"--connect", "127.0.0.1:1", "--secret", "s", "--mode", "fanin"},
		{"--connect", "127.0.0.1:1", "--secret", "s", "--accept-auth", "nonsense"},
	} {
		var out, errb bytes.Buffer
		if code := runBench(args, nil, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, lastLine(errb.String()))
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestBenchConns runs --conns 3 sink and a two-receiver fanout against
// nodes in this process and checks their RESULT lines.
func TestBenchConns(t *testing.T) {
	var addrs []string
	for _, id := range []string{"target", "other"} {
		n, err := engine.New(engine.Config{NodeID: id, Binds: []string{"127.0.0.1:0"}, Secret: "s",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		services.Echo(n)
		services.ServeSink(n)
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close(context.Background()) })
		addrs = append(addrs, n.Addrs()[0])
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--connect", addrs[0], "--target", "target", "--mode", "sink", "--conns", "3", "--count", "3000", "--batch", "100"},
			[]string{"mode=sink", "conns=3", "received=3000"}},
		{[]string{"--connect", addrs[0], "--mode", "ping", "--conns", "3", "--count", "30"},
			[]string{"mode=ping", "conns=3", "received=30"}},
		{[]string{"--connect", addrs[0], "--mode", "sink", "--count", "3000"},
			[]string{"mode=sink", "conns=1", "received=3000"}},
		{[]string{"--connect", strings.Join(addrs, ","), "--mode", "fanout", "--count", "3000", "--batch", "100"},
			[]string{"mode=fanout", "receivers=2", "received=3000"}},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"--secret", "s", "--timeout", "20"}, tc.args...)
		if code := runBench(args, nil, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errb.String())
		}
		line := " " + strings.TrimSpace(out.String()) + " "
		for _, w := range tc.want {
			if !strings.Contains(line, " "+w+" ") {
				t.Errorf("%v: RESULT line %q lacks %s", tc.args, line, w)
			}
		}
	}
}
