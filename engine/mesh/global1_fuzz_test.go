package mesh

import (
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// FuzzGlobal1Receive feeds json frames to a Global1 as messages from its
// peers b and c: the frame's port name picks what happens ("c": a message
// from c to the port it spawned; "spawn": a spawn request from b with the
// frame's arguments; "down": b goes down and comes back; "tick": time
// passes; anything else: a message from b). Nothing may panic, the limits
// must hold after every step, each message gives at most one Warning, and
// everything sent must encode.
func FuzzGlobal1Receive(f *testing.F) {
	for _, s := range []string{
		`["","addr",["10.0.0.2:4040"]]["","seedme1"]["tick"]`,
		`["","nodes",{"d":["10.0.0.4:1"],"me":["10.0.0.1:4040"],"e":[]}]`,
		`["","set",{"g":["b#1","c#1","me#1"],"h":["b#2"]}]["c","reg1","g","c#1"]["","reg0","g","c#1"]`,
		`["","reg1","g","b#1"]["down"]["","reg1","g","b#2"]`,
		`["","find","c"]["c","addr",["[::1]:1"]]["","find","c"]`,
		`["spawn",1,"b"]["spawn","0","b"]["spawn",[],"b"]["spawn",0,"x"]`,
		`["","setup"]["","seedme0"]["",[],{}]["",null]["",1e400]`,
		`["","set",{"g":["b#1","b#2","b#3","b#4","b#5","b#6","b#7","b#8","b#9","b#10","b#11","b#12"]}]`,
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxNodes: 8, MaxAddrs: 3, MaxEntriesPerNode: 10, MaxEntries: 15, MaxStringLen: 32}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := newG1("me", lim, 1)
		now := g1T0
		g.Register("g", "me#1")
		check := func(a Actions, maxWarn int) {
			t.Helper()
			if len(a.Warn) > maxWarn {
				t.Fatalf("%d warnings: %v", len(a.Warn), a.Warn)
			}
			for _, s := range a.Send {
				if _, err := framing.JSON.AppendMessage(nil, "p", s.Args); err != nil {
					t.Fatalf("unencodable send %v: %v", s, err)
				}
			}
			for _, d := range a.Dial {
				if !g.validNodeID(d.Node) || d.Node == "me" || len(d.Addrs) == 0 || len(d.Addrs) > lim.MaxAddrs {
					t.Fatalf("dial %+v", d)
				}
				for _, addr := range d.Addrs {
					if !validHostPort(addr) || addr == "10.0.0.1:4040" {
						t.Fatalf("dial %+v", d)
					}
				}
			}
			checkGlobal1Limits(t, g)
		}
		for _, n := range []string{"b", "c"} {
			check(g.NodeUp(n, n == "c", now), 0)
			spawnFrom(t, g, n)
		}
		dec := framing.NewDecoder(framing.JSON, framing.Limits{})
		for len(data) > 0 {
			m, n, err := dec.Next(data)
			if err != nil || n == 0 {
				return
			}
			data = data[n:]
			args, err := m.Args()
			if err != nil {
				t.Fatal(err)
			}
			switch m.PortString() {
			case "c":
				check(g.Receive("gp-c", "c", args, now), 1)
			case "spawn":
				a, _ := g.Spawned("b", "gp-b", args, now)
				check(a, 1)
			case "down":
				check(g.NodeDown("b", now), 0)
				check(g.NodeUp("b", false, now), 0)
				spawnFrom(t, g, "b")
			case "tick":
				now = now.Add(5 * time.Second)
				check(g.Tick(now), 0)
			default:
				check(g.Receive("gp-b", "b", args, now), 1)
			}
		}
	})
}
