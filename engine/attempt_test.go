package engine

import (
	"errors"
	"testing"
	"time"
)

// A wrong secret is reported as what it is, at once: a NodeEvent for the
// failed attempt with the original's reason text and ErrAuthFailed.
func TestAuthFailureEvent(t *testing.T) {
	a := startNode(t, "authA", Config{Secret: "one secret"})
	b := startNode(t, "authB", Config{Secret: "another secret"})
	start := time.Now()
	a.Connect(b.Addrs()[0])
	for {
		select {
		case ev := <-a.events:
			if !ev.Attempt {
				t.Fatalf("unexpected event %+v", ev)
			}
			if ev.Up || ev.Node != "authB" || ev.Addr != b.Addrs()[0] ||
				ev.Reason != "authentication failure/shared secret mismatch" || !errors.Is(ev.Err, ErrAuthFailed) {
				t.Fatalf("event %+v (err %v)", ev, ev.Err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("reported after %v", d)
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatalf("no event for the failed attempt; log:\n%s", a.log.String())
		}
	}
}

// Each failed attempt to a seed is reported, not only the first.
func TestSeedAttemptsReported(t *testing.T) {
	b := startNode(t, "seedB", Config{Secret: "another secret"})
	a := startNode(t, "seedA", Config{Secret: "one secret", Seeds: []string{b.Addrs()[0]}, ConnectInterval: 100 * time.Millisecond})
	for i := 0; i < 2; i++ {
		select {
		case ev := <-a.events:
			if !ev.Attempt || !errors.Is(ev.Err, ErrAuthFailed) {
				t.Fatalf("event %d: %+v", i, ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("attempt %d not reported", i)
		}
	}
}

// Seeds are dialled as soon as the node starts, not one connect interval
// later.
func TestSeedDialledAtStart(t *testing.T) {
	b := startNode(t, "early", Config{})
	a := startNode(t, "eager", Config{Seeds: []string{b.Addrs()[0]}, ConnectInterval: time.Hour})
	a.waitEvent(t, "early", true, 2*time.Second)
}
