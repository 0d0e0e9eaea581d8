package nodefuzz

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aemp-go/aemp/engine"
	"github.com/aemp-go/aemp/services"
)

// startEngineNode starts an aemp-go node on 127.0.0.1 (port chosen by the
// kernel) with the three framings; it is closed when the test ends.
func startEngineNode(t testing.TB, secret string) *engine.Node {
	t.Helper()
	n, err := engine.New(engine.Config{
		NodeID: "target", Secret: secret, Binds: []string{"127.0.0.1:0"},
		Framings: []string{"cbor", "json", "storable"},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	services.Echo(n)
	services.ServeSink(n)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n
}

func fuzzCases(t *testing.T, short, long int) int {
	if testing.Short() {
		return short
	}
	return long
}

// TestAgainstEngineNode: an aemp-go node gives no finding, and every
// phase and framing is fuzzed.
func TestAgainstEngineNode(t *testing.T) {
	n := startEngineNode(t, "s3cret")
	out := t.TempDir()
	res, err := Run(context.Background(), Options{
		Connect: n.Addrs()[0], Secret: "s3cret", Target: "target", Cases: fuzzCases(t, 300, 600), Seed: 7,
		OutDir: out, PID: os.Getpid(), RSSLimit: 1 << 40, // our own process: only the plumbing is checked
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		t.Errorf("finding %s (%s) in case %d: %s\n  %s", f.Kind, f.Phase, f.Case, f.Detail, f.What)
	}
	for _, p := range Phases {
		if res.PerPhase[p] < res.Cases/10 {
			t.Errorf("only %d of %d cases in phase %s", res.PerPhase[p], res.Cases, p)
		}
	}
	t.Logf("%d cases in %v (%.0f/s): %v", res.Cases, res.Elapsed, float64(res.Cases)/res.Elapsed.Seconds(), res.PerPhase)
}

// TestMemoryOracle: an RSS that rises by more than the limit gives one
// memory finding, saved with both figures.
func TestMemoryOracle(t *testing.T) {
	n := startEngineNode(t, "s3cret")
	calls := 0
	o := Options{Connect: n.Addrs()[0], Secret: "s3cret", Cases: 40, Seed: 1, OutDir: t.TempDir(), PID: 1,
		RSSDelay: 50 * time.Millisecond, RSSLimit: 64 << 20}
	o.rss = func(int) (int64, error) {
		calls++
		if calls > 25 {
			return 200 << 20, nil
		}
		return 10 << 20, nil
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Kind != KindMemory {
		t.Fatalf("findings %+v, want one memory finding", res.Findings)
	}
	f, err := LoadFinding(res.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	if f.RSSBefore != 10<<20 || f.RSSAfter != 200<<20 || res.Occurrences[KindMemory] != 1 {
		t.Errorf("rss %d -> %d, occurrences %d", f.RSSBefore, f.RSSAfter, res.Occurrences[KindMemory])
	}
}
