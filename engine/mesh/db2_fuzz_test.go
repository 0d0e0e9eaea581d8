package mesh

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// FuzzDB2Request feeds arbitrary decoded messages (the first byte picks
// the framing and the sending node, the rest is a stream of frames) to a
// global node and to an ordinary node, checking that nothing panics, each
// message gives at most one Warning, the limits and the bookkeeping hold,
// no Dial names ourselves or our address, and everything we send can be
// encoded in every framing Perl reads.
func FuzzDB2Request(f *testing.F) {
	files, _ := filepath.Glob("testdata/db2/*.txt")
	for _, file := range files {
		fh, err := os.Open(file)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) > 2 && (fl[0] == "rcv" || fl[0] == "snd") {
				if b, err := hex.DecodeString(fl[2]); err == nil {
					f.Add(append([]byte{0}, b...))
					f.Add(append([]byte{2}, b...))
				}
			}
		}
		fh.Close()
	}
	for _, s := range []string{
		`["","g_upd","f",{"k":1,"j":[1,2]},["x"]]["","g_upd","f",null,["k"]]`,
		`["","g_slave",{"'l":{"s":["1.2.3.4:5"]},"f":{"a":null}}]["","g_mon1","f"]["","g_upd","f",{"b":2}]`,
		`["","g_global"]["","g_set",{"'g":{"x":null},"'l":{"x":["9.9.9.9:1","10.0.0.1:1"],"p":["8.8.8.8:1"]}}]`,
		`["","g_find","s"]["","g_db_family","f","id"]["","g_db_keys","'l",1]["","g_db_values","f",[]]`,
		`["","g_reply","b",{"k":1}]["","g_found","y",["10.0.0.1:1","1.1.1.1:1"]]["","g_chg1","f",{"a":1}]["","g_chg2","f",{"b":2},["a"]]`,
		`["","g_mon0","f"]["","g_clr","s"]["","g_upd","f",{"k":1e400}]["","g_upd","f",{"k":-0.0}]`,
	} {
		f.Add(append([]byte{1}, s...))
		f.Add(append([]byte{3}, s...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		sel := data[0]
		codec := framing.CBOR
		if sel&1 != 0 {
			codec = framing.JSON
		}
		src := [...]string{"s", "p", "m", "x"}[sel>>1&3]
		lim := Limits{MaxNodes: 8, MaxAddrs: 4, MaxEntriesPerNode: 40, MaxEntries: 100, MaxStringLen: 64}
		now := time.Unix(10, 0)
		g := NewDB2(DB2Config{Self: "g", Addrs: []string{"10.0.0.1:1"}, Global: true, Limits: lim})
		o := NewDB2(DB2Config{Self: "o", Addrs: []string{"10.0.0.1:1"}, Limits: lim})
		for _, d := range []*DB2{g, o} {
			for _, n := range []string{"s", "p", "m", "x"} {
				d.NodeUp(n, n == "m", now)
			}
			d.Request("p", "g_global", nil, now)
			d.Watch("f")
			d.Find("y", now)
			d.QueryKeys("f")
		}
		dec := framing.NewDecoder(codec, framing.Limits{MaxFrameSize: 1 << 16, MaxDepth: 64})
		buf := data[1:]
		for steps := 0; len(buf) > 0 && steps < 64; steps++ {
			m, n, err := dec.Next(buf)
			if err != nil || n == 0 {
				return
			}
			buf = buf[n:]
			args, err := m.Args()
			if err != nil || len(args) == 0 {
				continue
			}
			name, ok := framing.Text(args[0])
			if !ok {
				continue
			}
			for _, d := range []*DB2{g, o} {
				now = now.Add(time.Second)
				db2FuzzCheck(t, d, d.Request(src, name, args[1:], now))
				db2FuzzCheck(t, d, d.Tick(now))
			}
		}
		for _, d := range []*DB2{g, o} {
			db2FuzzCheck(t, d, d.NodeDown(src, now))
			db2FuzzCheck(t, d, d.Find("y", now))
			_, a := d.QueryFamily("f")
			db2FuzzCheck(t, d, a)
		}
	})
}

func db2FuzzCheck(t *testing.T, d *DB2, a Actions) {
	t.Helper()
	if len(a.Warn) > 1 {
		t.Fatalf("%d warnings for one event: %v", len(a.Warn), a.Warn)
	}
	for _, dl := range a.Dial {
		if dl.Node == d.self || len(dl.Addrs) > d.lim.MaxAddrs {
			t.Fatalf("dial %+v", dl)
		}
		for _, ad := range dl.Addrs {
			if ad == "10.0.0.1:1" {
				t.Fatalf("dial to our own address: %+v", dl)
			}
		}
	}
	for _, s := range a.Send {
		for _, c := range []framing.Codec{framing.CBOR, framing.JSON, framing.Storable} {
			if _, err := c.AppendMessage(nil, "", s.Args); err != nil {
				t.Fatalf("%s cannot encode %v: %v", c.Name(), s.Args, err)
			}
		}
	}
	db2Check(t, d)
}
